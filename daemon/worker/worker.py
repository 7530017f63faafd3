"""The image worker: polls the store, leases pending results, runs processors in the pool.

The loop is :class:`daemon.polling.LeasedPollingLoop`: claim a batch with a lease; run each
processor in the bounded CPU pool so the event loop stays responsive; record ``completed``
/ ``failed`` with the error text. On stop, in-flight work finishes (threads cannot be
cancelled), then every lease still held is released back to ``pending``: nothing is left
``processing``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import structlog

from daemon.aio import GroupCommit, run_in_pool
from daemon.config.settings import WorkerSettings
from daemon.images import set_max_pixels
from daemon.library.files import LibraryFiles
from daemon.library.objects import ObjectStoreError
from daemon.metrics import PROCESSOR_SECONDS
from daemon.polling import LeasedPollingLoop
from daemon.store import ClaimedResult, Store, StoreDamaged
from daemon.store.models import ResultOutput
from daemon.worker.processors.base import Processor

log = structlog.get_logger("daemon.worker")


class Worker(LeasedPollingLoop[ClaimedResult]):
    """Runs processors over pending results until stopped."""

    component = "worker"
    settings: WorkerSettings

    def __init__(self, store: Store, processors: dict[str, Processor], library_root: Path,
                 settings: WorkerSettings, pool: Executor, owner: str,
                 source: str | None = None, files: LibraryFiles | None = None) -> None:
        super().__init__(store, owner, source)
        self.processors = processors
        self.library_root = library_root
        #: an S3 library: originals fetched into the working copy, outputs uploaded beside them
        self.files = files
        self.settings = settings
        self.pool = pool
        self.processed = 0
        self.started_s = time.monotonic()  # throughput = processed since then
        self._threads = asyncio.Semaphore(settings.threads)  # decode + inference at once
        # outputs finished together are recorded in one transaction (group commit)
        self._completions: GroupCommit[tuple[int, ResultOutput, float], bool] = GroupCommit(
            lambda done: self.store.complete_results(self.owner, done))

    def reconfigure(self, settings: WorkerSettings, library_root: Path,
                    processors: Mapping[str, Processor] | None = None) -> None:
        """Apply a reloaded config: ``[worker]`` (``threads`` keeps its value until a restart:
        the CPU pool is sized at start), the library root, the pixel budget, and — when given —
        the rebuilt ``processors`` (replaced in the mapping shared with the API)."""
        self.settings = settings.model_copy(update={"threads": self.settings.threads})
        self.library_root = library_root
        set_max_pixels(settings.max_image_pixels)
        if processors is not None and processors is not self.processors:
            self.processors.clear()
            self.processors.update(processors)

    async def health(self) -> dict[str, Any]:
        """``/api/health``'s worker check: the backlog (results pending and processing)."""
        busy = await self.store.busy_counts()
        return {"ok": True, "pending": busy["pending"], "processing": busy["processing"]}

    @property
    def capacity(self) -> int:
        return self.settings.threads * 2  # one running and one queued per thread

    async def claim(self, limit: int) -> list[ClaimedResult]:
        return await self.store.claim_results(
            self.owner, min(limit, self.settings.batch), self.lease_s,
            self.settings.max_attempts, source=self.source,
        )

    async def release(self) -> int:
        return await self.store.release_results(self.owner)

    async def handle(self, work: ClaimedResult) -> None:
        item = work.item
        with structlog.contextvars.bound_contextvars(
            source=item.source, key=item.key, processor=work.processor
        ):
            await self._process(work)

    async def _process(self, claimed: ClaimedResult) -> None:
        item = claimed.item
        processor = self.processors.get(claimed.processor)
        if processor is None:
            await self.store.fail_result(claimed.id, self.owner,
                                         f"processor {claimed.processor!r} is not configured")
            log.warning("result_failed", error="processor not configured")
            return
        try:
            if not item.path:
                raise FileNotFoundError("item has no file path")
            path = self.library_root / item.path if self.files is None else await self.files.local(item.path)
            async with self._threads:
                started = time.perf_counter()
                out = await run_in_pool(self.pool, processor.process, item, path)
                duration_ms = (time.perf_counter() - started) * 1000
                PROCESSOR_SECONDS.labels(claimed.processor).observe(duration_ms / 1000)
            if self.files is not None and isinstance(written := out.output.get("files"), dict):
                await self.files.keep(path, [str(name) for name in written.values()])
        except StoreDamaged:  # the database, not the image: stop (never label the result)
            raise
        except ObjectStoreError as exc:  # the bucket, not the image: claimed again after the lease
            log.warning("result_waits_for_the_bucket", error=str(exc), retry_after_s=self.settings.lease_s)
            return
        except Exception as exc:  # one bad image never kills the worker
            error = f"{type(exc).__name__}: {exc}"
            await self.store.fail_result(claimed.id, self.owner, error)
            log.warning("result_failed", error=error)
            return
        if await self._completions.submit((claimed.id, out, duration_ms)):
            self.processed += 1
            log.info("result_completed", octas=out.octas, cloud_fraction=out.cloud_fraction,
                     condition=out.output.get("condition"), duration_ms=round(duration_ms, 1))
        else:
            log.warning("result_lease_lost")
