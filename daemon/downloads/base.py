"""What every download backend shares: claiming, the duplicate policy, finishing, failing.

A backend subclasses :class:`Downloader` and fetches each claimed item into
:meth:`Downloader.staging_path`; :meth:`Downloader.complete` seals, verifies and publishes
it (see :mod:`daemon.library.publish`) and records it in the store. Backends know the
store, the library and the staging folder, never the sources.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.aio import GroupCommit, run_in_pool
from daemon.config.root import Config
from daemon.config.settings import DownloadSettings, LibrarySettings
from daemon.downloads.staging import sweep_staging
from daemon.errors import classify
from daemon.images import verify_file
from daemon.library.files import LibraryFiles, WorkingCopy
from daemon.library.filing import file_into_library, file_modes, mtime_of
from daemon.library.objects import ObjectLibrary, ObjectStoreError
from daemon.library.paths import LayoutError, resolve_in_root
from daemon.library.publish import Sealed, is_image, seal
from daemon.library.root import LibraryGuard, LibraryState
from daemon.metrics import DOWNLOAD_FAILURES, DOWNLOADED_BYTES
from daemon.polling import LeasedPollingLoop
from daemon.store import Downloaded, Item, Store
from daemon.store.models import NOT_FOUND, STORAGE_ERROR

log = structlog.get_logger("daemon.downloads")
LIBRARY_CHECK_S = 5.0
SWEEP_TIMEOUT_S = 30.0  # a listing that takes longer is left running; the next sweep waits for it


def duplicate_policies(sources: Mapping[str, Any]) -> dict[str, str]:
    """Source name → its own ``duplicates`` policy, for sources that set one."""
    return {name: policy for name, src in sources.items()
            if (policy := getattr(src, "duplicates", None)) is not None}


@dataclass(frozen=True)
class Target:
    """Where a claimed item goes: the resolved library root and the file's final path."""

    root: Path
    final: Path
    existed: bool = False  # a file was at ``final`` when the item was claimed
    fallback: bool = False  # ``root`` is ``[library] fallback_root``, not the main root


class Downloader(LeasedPollingLoop[Item]):
    """Base of the download backends. ``await run(stop)`` until stopped."""

    component = "downloader"
    backend = "base"
    settings: DownloadSettings

    def __init__(self, store: Store, library: LibrarySettings, settings: DownloadSettings, pool: Executor,
                 owner: str, source: str | None = None,
                 on_downloaded: Callable[[], None] | None = None) -> None:
        super().__init__(store, owner, source)
        #: an S3 library (:meth:`use_library`): published into the local working copy, then uploaded
        self.objects: ObjectLibrary | None = None
        self.working: WorkingCopy | None = None
        self.guard = LibraryGuard(library)
        self.library_root = library.root  # the root files go to now (fallback_root while it is down)
        self._checked_at = -LIBRARY_CHECK_S
        self.settings = settings
        self.pool = pool
        self.on_downloaded = on_downloaded
        self._sweeping: asyncio.Future[list[Path]] | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self._records: GroupCommit[Downloaded, bool] = GroupCommit(self._record_many)
        self.policies: dict[str, str] = {}  # source → its own duplicate policy (else on_existing)

    def use_library(self, files: LibraryFiles) -> None:
        """Publish through ``files``: with an S3 library every file is uploaded (and the bucket
        checked with the library root); with a folder library nothing changes."""
        self.objects, self.working = files.objects, files.working
        self.guard.remote = self.objects.problem if self.objects is not None else None

    def reconfigure(self, cfg: Config) -> None:
        """Apply a reloaded config: ``[downloads]``, ``[library]`` and each source's
        ``duplicates`` (in-flight downloads finish under the settings they started with)."""
        self.settings = cfg.downloads
        self.guard.settings = cfg.library
        self.policies = duplicate_policies(cfg.sources)

    @property
    def restarts(self) -> int:
        """How often the backend's engine was restarted (aria2c); 0 for the built-in one."""
        return 0

    def health(self) -> dict[str, Any]:
        """``/api/health``'s downloader check: ``ok`` (the backend can take work), backend, busy."""
        return {"ok": True, "backend": self.backend, "busy": self.busy}

    def policy_for(self, item: Item) -> str:
        """The duplicate policy for ``item``: its source's ``duplicates``, else ``on_existing``."""
        return self.policies.get(item.source, self.settings.on_existing)

    async def finish_inflight(self, tasks: set[asyncio.Task[None]]) -> None:
        """On stop: cancel downloads still transferring (their leases are released; aria2c
        keeps them in its session), but let those already publishing a file finish, so no
        file lands in the library without its record (``rename`` would otherwise duplicate it).
        """
        for task in tasks - self._finishing:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def staging(self) -> Path:
        """``[downloads] staging_dir``, else ``.partial`` in the root files go to now."""
        return self.settings.staging_dir or self.library_root / ".partial"

    async def claim(self, limit: int) -> list[Item]:
        """Lease items, unless the library is unusable (checked every ``LIBRARY_CHECK_S``)."""
        loop = asyncio.get_running_loop()
        if self.guard.state.paused or loop.time() - self._checked_at >= LIBRARY_CHECK_S:
            self._checked_at = loop.time()
            state = await self.guard.check(self.settings.staging_dir)
            if state.root is None:
                return []
            self.library_root = state.root
        return await self.store.claim_items(self.owner, limit, self.lease_s, source=self.source)

    async def release(self) -> int:
        return await self.store.release_items(self.owner)

    async def storage_failed(self, item: Item, exc: OSError) -> bool:
        """A write failed with ENOSPC/EDQUOT: re-check the library now (below ``[library]
        min_free_bytes`` downloads pause until space is back) and retry the item later.
        Returns False for other errors (the caller fails the item)."""
        if isinstance(exc, ObjectStoreError):  # the bucket: check it now (downloads pause while down)
            self.guard.force_remote_check()
            await self.recheck_library()
            await self.retry_later(item, STORAGE_ERROR, str(exc))
            return True
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return False
        await self.recheck_library()
        await self.retry_later(item, STORAGE_ERROR, f"disk full: {exc}")
        return True

    async def recheck_library(self) -> LibraryState:
        """Check the library now rather than at the next ``LIBRARY_CHECK_S`` tick (after a write
        failed); the root files go to follows the answer."""
        self._checked_at = asyncio.get_running_loop().time()
        state = await self.guard.check(self.settings.staging_dir)
        if state.root is not None:
            self.library_root = state.root
        return state

    def busy_item_ids(self) -> set[int]:
        """Items whose staged files this process is using now (the sweep leaves them)."""
        return set()

    async def housekeeping(self) -> None:
        """Sweep the staging folder (:mod:`daemon.downloads.staging`), unless the library is
        unusable (a hung NAS mount would hang the listing) or a sweep is still running."""
        if self.guard.state.paused or self._sweeping is not None:
            return
        sweeping = asyncio.ensure_future(sweep_staging(self.staging, self.store, self.busy_item_ids()))
        self._sweeping = sweeping
        sweeping.add_done_callback(self._swept)
        try:
            async with asyncio.timeout(SWEEP_TIMEOUT_S):
                swept = await asyncio.shield(sweeping)
        except (OSError, TimeoutError) as exc:  # the library guard reports the root's trouble
            log.warning("staging_sweep_failed", folder=str(self.staging), error=f"{type(exc).__name__}: {exc}")
            return
        if swept:
            log.info("staging_swept", folder=str(self.staging), deleted=len(swept),
                     files=[p.name for p in swept[:10]])

    def _swept(self, future: asyncio.Future[list[Path]]) -> None:
        self._sweeping = None
        if not future.cancelled():
            future.exception()  # retrieved: a late failure was already reported (or is moot)

    @staticmethod
    def staging_name(item: Item, final: Path) -> str:
        """``<16 hex of the item id>-<final name>``: unique per item, readable in listings."""
        return f"{item.id:016x}-{final.name}"

    def staging_path(self, item: Item, final: Path) -> Path:
        """The file a backend fetches ``item`` into."""
        return self.staging / self.staging_name(item, final)

    async def target(self, item: Item) -> Target:
        """Resolve the item's layout path inside the library (in a thread: NAS mounts hang).

        Raises:
            LayoutError: no url or path, or a path leaving the library root.
            OSError: the folders cannot be created.
        """
        if not item.path or not item.url:
            raise LayoutError("item has no url or layout path")
        path, staging, current, main = item.path, self.staging, self.library_root, self.guard.settings.root

        def resolve() -> Target:
            root = current.resolve()
            staging.mkdir(parents=True, exist_ok=True)
            final = resolve_in_root(root, path)
            return Target(root, final, final.exists(), root != main.resolve())

        return await asyncio.to_thread(resolve)

    async def adopt_existing(self, item: Item, target: Target) -> bool:
        """``skip`` policy: a complete file already at the path is recorded, not fetched again.

        Returns True when the item is done (adopted); False when it must be fetched.
        """
        if self.objects is not None:
            return await self._adopt_object(item, target)
        if self.policy_for(item) != "skip" or not target.existed:
            return False
        try:
            sealed = await asyncio.to_thread(seal, target.final, item.checksum)
            if self.settings.verify_images and is_image(target.final):
                await run_in_pool(self.pool, verify_file, target.final)
        except ValueError as exc:  # CorruptImage, ChecksumMismatch
            log.warning("existing_file_invalid_refetching", path=item.path, reason=str(exc))
            return False
        await self._record(item, target, target.final, sealed, adopted=True)
        return True

    async def _adopt_object(self, item: Item, target: Target) -> bool:
        """S3 library, ``skip``: an object already at the item's key is recorded, not fetched."""
        assert self.objects is not None
        if self.policy_for(item) != "skip":
            return False
        key = target.final.relative_to(target.root).as_posix()
        there = await self.objects.head(key)
        if there is None:
            return False
        sha = there.sha256
        if sha is None:  # an object harvestd did not write: its digest is read once
            await self.objects.download(key, target.final)
            sha = (await asyncio.to_thread(seal, target.final)).sha256
        await self._record(item, target, target.final, Sealed(there.size_bytes, sha), adopted=True)
        return True

    async def complete(self, item: Item, target: Target, staged: Path,
                       expected_size: int | None = None, checksum: str | None = None) -> Path:
        """Seal, verify and publish ``staged``; record the item as downloaded.

        ``checksum`` (TYPE=hex) defaults to the item's own.

        Raises:
            ChecksumMismatch: size or checksum differ (the staged file is left for the caller).
            CorruptImage: an image that does not decode.
            LayoutError, OSError: publishing failed.
        """
        task = asyncio.current_task()
        if task is not None:
            self._finishing.add(task)
        try:
            verify = verify_file if self.settings.verify_images and is_image(target.final) else None
            policy = self.policy_for(item)
            filed = await file_into_library(  # S3: into the working copy, the bucket decides below
                staged, target.final, policy="overwrite" if self.objects is not None else policy,
                modes=file_modes(self.guard.settings),
                checksum=checksum or item.checksum, expected_size=expected_size,
                mtime=mtime_of(item.captured_at) if self.settings.set_mtime else None,
                verify=verify, pool=self.pool)
            landed, sealed = filed.path, filed.sealed
            if self.objects is not None:
                landed, sealed = await self.upload_published(target.root, landed, sealed, policy)
            await self._record(item, target, landed, sealed, adopted=False)
        finally:
            if task is not None:
                self._finishing.discard(task)
        return landed

    async def upload_published(self, root: Path, landed: Path, sealed: Sealed,
                               policy: str) -> tuple[Path, Sealed]:
        """S3 library: the verified file ``landed`` (in the working copy at ``root``) into the
        bucket — the caller records it only after this returned; returns the path matching the
        object's key (``rename``: maybe another name) and its seal. Folder library: unchanged.

        Raises:
            ObjectStoreError: the bucket refused or could not be reached.
        """
        if self.objects is None:
            return landed, sealed
        key = landed.relative_to(root).as_posix()
        kind = "image/jpeg" if landed.suffix.lower() in (".jpg", ".jpeg") else None
        there = await self.objects.upload(landed, key, policy, sealed.sha256, sealed.size_bytes, kind)
        if there.key != key:  # renamed in the bucket: the working copy follows
            moved = root / there.key
            await asyncio.to_thread(landed.replace, moved)
            landed = moved
        if self.working is not None:
            await self.working.touch(landed, there.size_bytes)
        return landed, Sealed(there.size_bytes, there.sha256 or sealed.sha256)

    async def _record(self, item: Item, target: Target, landed: Path, sealed: Sealed,
                      adopted: bool) -> None:
        # under a fallback root the path is recorded in full, so it is clear where the file is
        relative = landed.as_posix() if target.fallback else landed.relative_to(target.root).as_posix()
        if await self._records.submit(Downloaded(item.id, relative, sealed.size_bytes, sealed.sha256)):
            log.info("existing_file_adopted" if adopted else "downloaded", path=relative,
                     bytes=sealed.size_bytes, backend=self.backend)
            if not adopted:
                DOWNLOADED_BYTES.labels(item.source).inc(sealed.size_bytes)
            if self.on_downloaded is not None:
                self.on_downloaded()
        else:
            log.warning("download_lease_lost", path=relative)

    async def _record_many(self, rows: list[Downloaded]) -> list[bool]:
        done = await self.store.mark_downloaded_many(self.owner, rows)
        return [row.item_id in done for row in rows]

    async def record_failure(self, item: Item, exc: BaseException) -> None:
        """Record why ``item``'s attempt failed, as :func:`daemon.errors.classify` says (the same
        code for the same cause on either backend): transient → :meth:`retry_later`, else
        :meth:`fail`. A full or unusable library pauses downloads instead (the item is released
        unharmed, see :meth:`storage_failed`). An exception that is not a harvestd error is a
        bug: logged with its traceback, the item failed as ``http_error`` (never left claimed).
        Call from an ``except`` block.
        """
        if isinstance(exc, OSError) and await self.storage_failed(item, exc):
            return
        failure = classify(exc)
        if failure.bug:
            log.exception("download_crashed")
        if failure.transient:
            await self.retry_later(item, failure.code, failure.message)
        else:
            await self.fail(item, failure.code, failure.message)

    async def fail(self, item: Item, code: str, message: str) -> None:
        """Final failure: the item is ``failed`` with ``code`` and ``message`` (in words)."""
        level = log.info if code == NOT_FOUND else log.warning
        level("download_failed", error_code=code, error=message, url=item.url, attempt=item.attempts)
        DOWNLOAD_FAILURES.labels(item.source, code, "true").inc()
        await self.store.mark_item_failed(item.id, self.owner, code, message)

    async def retry_later(self, item: Item, code: str, message: str) -> None:
        """A transient failure: retried with backoff until ``max_attempts``, then final."""
        if item.attempts >= self.settings.max_attempts:
            await self.fail(item, code, f"{message} (gave up after {item.attempts} attempts)")
            return
        delay_s = self.settings.retry_delay_s(item.attempts)
        DOWNLOAD_FAILURES.labels(item.source, code, "false").inc()
        log.warning("download_retry_scheduled", error_code=code, error=message, url=item.url,
                    attempt=item.attempts, retry_in_s=round(delay_s, 1))
        await self.store.retry_item(item.id, self.owner, code, message, delay_s)
