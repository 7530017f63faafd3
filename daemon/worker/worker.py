"""The image worker: polls the store, leases pending results, runs processors in the pool.

Loop (cf. procrastinate's worker): wait for "new work" OR the poll interval OR stop; claim a
batch with a lease; run each processor in the bounded CPU pool so the event loop stays
responsive; record ``completed`` / ``failed`` with the error text. On stop, in-flight work
finishes (threads cannot be cancelled) within the caller's bound, then every lease still
held is released back to ``pending``: nothing is left ``processing``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path

import structlog

from daemon.aio import run_in_pool, wait_any
from daemon.config import WorkerSettings
from daemon.store import ClaimedResult, Store
from daemon.worker.processors import Processor

log = structlog.get_logger("daemon.worker")


class Worker:
    """Runs processors over pending results until stopped."""

    def __init__(self, store: Store, processors: Mapping[str, Processor], library_root: Path,
                 settings: WorkerSettings, pool: Executor, owner: str,
                 source: str | None = None) -> None:
        self.store = store
        self.processors = processors
        self.library_root = library_root
        self.settings = settings
        self.pool = pool
        self.owner = owner
        self.source = source
        self.wake = asyncio.Event()
        self.processed = 0
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        """Results being processed right now."""
        return len(self._inflight)

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop``; then wait for in-flight work and release leftover leases."""
        slots = asyncio.Semaphore(self.settings.threads)
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        try:
            while not stop.is_set():
                if self._inflight and loop.time() - renewed_at > self.settings.lease_s / 3:
                    await self.store.renew_leases(self.owner, self.settings.lease_s)
                    renewed_at = loop.time()
                free = self.settings.threads * 2 - len(self._inflight)
                if free <= 0:  # queue full: wait for a slot (in-flight work always ends)
                    await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                claimed: list[ClaimedResult] = await self.store.claim_results(
                    self.owner, min(free, self.settings.batch), self.settings.lease_s,
                    self.settings.max_attempts, source=self.source,
                )
                for result in claimed:
                    task = asyncio.create_task(self._process(result, slots))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                if not claimed:
                    self.wake.clear()
                    await wait_any([self.wake, stop], self.settings.poll_interval_s)
        finally:
            if self._inflight:
                await asyncio.wait(set(self._inflight))
            released = await self.store.release_results(self.owner)
            if released:
                log.info("results_released", count=released)

    async def _process(self, claimed: ClaimedResult, slots: asyncio.Semaphore) -> None:
        item = claimed.item
        with structlog.contextvars.bound_contextvars(
            source=item.source, key=item.key, processor=claimed.processor
        ):
            await self._process_result(claimed, slots)

    async def _process_result(self, claimed: ClaimedResult, slots: asyncio.Semaphore) -> None:
        item = claimed.item
        processor = self.processors.get(claimed.processor)
        if processor is None:
            await self.store.fail_result(claimed.id, self.owner,
                                         f"processor {claimed.processor!r} is not configured")
            log.warning("result_failed", error="processor not configured")
            return
        started = time.perf_counter()
        try:
            if not item.path:
                raise FileNotFoundError("item has no file path")
            path = self.library_root / item.path
            async with slots:
                out = await run_in_pool(self.pool, processor.process, item, path)
        except Exception as exc:  # one bad image never kills the worker
            error = f"{type(exc).__name__}: {exc}"
            await self.store.fail_result(claimed.id, self.owner, error)
            log.warning("result_failed", error=error)
            return
        duration_ms = (time.perf_counter() - started) * 1000
        if await self.store.complete_result(claimed.id, self.owner, out, duration_ms):
            self.processed += 1
            log.info("result_completed", octas=out.octas, cloud_fraction=out.cloud_fraction,
                       condition=out.output.get("condition"), duration_ms=round(duration_ms, 1))
        else:
            log.warning("result_lease_lost")
