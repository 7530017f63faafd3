"""The shared resources of one process, entered in dependency order and left in reverse.

Store → HTTP client → CPU pool → processors → downloader and worker. Used both by the
daemon (``harvestd run``) and by one-shot commands (``harvestd backfill``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import structlog

from daemon.aio import lease_owner, owner_is_dead
from daemon.config.root import Config
from daemon.downloads.base import Downloader
from daemon.downloads.select import build_downloader
from daemon.http import HttpClient
from daemon.images import set_max_pixels
from daemon.library.files import LibraryFiles, library_files
from daemon.sources.registry import build_source
from daemon.store import Store, open_configured
from daemon.worker.processors.base import Processor
from daemon.worker.processors.build import build_processors
from daemon.worker.worker import Worker

log = structlog.get_logger("daemon.resources")


@dataclass
class Resources:
    """Everything a process shares: one store, one HTTP session, one CPU pool."""

    cfg: Config
    store: Store
    http: HttpClient
    pool: ThreadPoolExecutor
    processors: dict[str, Processor]
    downloader: Downloader
    worker: Worker
    files: LibraryFiles  # library paths → local files (an S3 library fetches them)


@asynccontextmanager
async def open_resources(cfg: Config, role: str, source: str | None = None) -> AsyncIterator[Resources]:
    """Build the shared resources; ``source`` limits the downloader and worker to one source.

    Raises:
        sqlite3.Error, OSError: the database or data folder cannot be opened.
        Aria2Missing: ``downloads.backend = "aria2"`` without an aria2c binary.
    """
    set_max_pixels(cfg.worker.max_image_pixels)
    async with AsyncExitStack() as stack:
        await asyncio.to_thread(cfg.data_dir.mkdir, parents=True, exist_ok=True)
        if not cfg.library.require_mount:  # a mount point is never created: it would be local disk
            try:
                await asyncio.to_thread(cfg.library.root.mkdir, parents=True, exist_ok=True)
            except OSError as exc:  # the library guard pauses downloads and says why
                log.error("library_root_not_created", root=str(cfg.library.root), error=str(exc))
        store = await stack.enter_async_context(
            open_configured(cfg)
        )
        for owner in await store.lease_owners():
            if owner_is_dead(owner):
                released = await store.release_owner(owner)
                log.warning("leases_of_dead_process_released", owner=owner, count=released)
        if closed := await store.close_orphan_runs(owner_is_dead):
            log.warning("runs_of_dead_process_closed", count=closed, status="interrupted")
        http = await stack.enter_async_context(HttpClient(cfg.http))
        for name, source_cfg in cfg.sources.items():  # downloads of any run get each host's pace
            build_source(name, source_cfg).suggest_limits(http)
        pool = ThreadPoolExecutor(max_workers=cfg.worker.threads, thread_name_prefix="harvestd-cpu")
        stack.callback(pool.shutdown, wait=False, cancel_futures=True)
        processors = await asyncio.to_thread(build_processors, cfg.processor_configs())
        files = await library_files(cfg.library)
        worker = Worker(store, processors, cfg.library.root, cfg.worker, pool,
                        lease_owner(f"{role}-worker"), source=source,
                        files=files if files.objects is not None else None)
        downloader = await build_downloader(cfg, store, http, pool, lease_owner(f"{role}-downloader"),
                                      name=f"{role}-{source}" if source else role, source=source,
                                      on_downloaded=worker.wake.set, files=files)
        try:
            yield Resources(cfg, store, http, pool, processors, downloader, worker, files)
        finally:  # the components have stopped: no run of this process can still be going
            with contextlib.suppress(Exception):  # a damaged store was reported where it failed
                if closed := await store.close_own_runs():
                    log.warning("runs_closed_at_stop", count=closed, status="interrupted")
