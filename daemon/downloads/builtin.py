"""The built-in downloader: claims discovered items from the store and streams them.

Each file is streamed to ``<final>.part`` beside its destination (same filesystem), fsynced,
verified (the image must decode), then renamed atomically (``os.replace``) to its layout
path, and the folder is fsynced: a file never appears at its final path unless complete.
The downloader knows the store, the HTTP client and the library root, never the sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import structlog

from daemon.aio import run_in_pool
from daemon.config import DownloadSettings
from daemon.downloads.layout import LayoutError, next_free_name, resolve_in_root
from daemon.http import HttpClient, HttpError, NotFound
from daemon.images import CorruptImage, verify_image
from daemon.polling import LeasedPollingLoop
from daemon.store import Item, Store
from daemon.store.models import CORRUPT, HTTP_ERROR, NETWORK_ERROR, NOT_FOUND, STORAGE_ERROR

log = structlog.get_logger("daemon.downloads")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def _publish(part: Path, final: Path) -> None:
    os.replace(part, final)
    _fsync_dir(final.parent)


class BuiltinDownloader(LeasedPollingLoop[Item]):
    """Download loop over the store (aiohttp streaming). ``await run(stop)`` until stopped."""

    component = "downloader"
    settings: DownloadSettings

    def __init__(self, store: Store, http: HttpClient, library_root: Path,
                 settings: DownloadSettings, pool: Executor, owner: str,
                 source: str | None = None,
                 on_downloaded: Callable[[], None] | None = None) -> None:
        super().__init__(store, owner, source)
        self.http = http
        self.library_root = library_root
        self.settings = settings
        self.pool = pool
        self.on_downloaded = on_downloaded

    @property
    def capacity(self) -> int:
        return self.settings.concurrency

    async def claim(self, limit: int) -> list[Item]:
        return await self.store.claim_items(self.owner, limit, self.lease_s, source=self.source)

    async def release(self) -> int:
        return await self.store.release_items(self.owner)

    async def finish_inflight(self, tasks: set[asyncio.Task[None]]) -> None:
        """Downloads can be long: cancel them (their leases are released, the .part removed)."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def handle(self, work: Item) -> None:
        await self._download(work)

    async def _download(self, item: Item) -> None:
        # every line logged while downloading this item (HTTP retries too) names it
        with structlog.contextvars.bound_contextvars(source=item.source, key=item.key):
            await self._download_item(item)

    async def _download_item(self, item: Item) -> None:
        part: Path | None = None
        try:
            if not item.path or not item.url:
                raise LayoutError("item has no url or layout path")
            # realpath() touches the file system: a hung NAS mount must not freeze the loop
            root = await asyncio.to_thread(self.library_root.resolve)
            final = await asyncio.to_thread(resolve_in_root, root, item.path)
            await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
            if await asyncio.to_thread(final.exists):
                policy = self.settings.on_existing
                if policy == "skip" and await self._adopt(item, final, root):
                    return
                if policy == "rename":
                    final = await asyncio.to_thread(next_free_name, final)
            part = final.with_name(final.name + ".part")
            got = await self.http.download(item.url, part)
            if self.settings.verify_images:
                await run_in_pool(self.pool, verify_image, part)
            await asyncio.to_thread(_publish, part, final)
            part = None
            relative = final.relative_to(root).as_posix()
            if await self.store.mark_downloaded(item.id, self.owner, relative, got.size_bytes, got.sha256):
                log.info("downloaded", path=relative, bytes=got.size_bytes)
                if self.on_downloaded is not None:
                    self.on_downloaded()
            else:
                log.warning("download_lease_lost", path=relative)
        except NotFound as exc:
            await self._fail(item, NOT_FOUND, str(exc))
        except HttpError as exc:
            code = NETWORK_ERROR if exc.status is None else HTTP_ERROR
            await self._fail(item, code, str(exc))
        except CorruptImage as exc:
            await self._fail(item, CORRUPT, f"downloaded file is corrupt: {exc}")
        except (LayoutError, OSError) as exc:
            await self._fail(item, STORAGE_ERROR, f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad item never kills the loop
            log.exception("download_crashed")
            await self._fail(item, HTTP_ERROR, f"unexpected {type(exc).__name__}: {exc}")
        finally:
            if part is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(part.unlink, True)

    async def _adopt(self, item: Item, final: Path, root: Path) -> bool:
        """``skip`` policy: a complete file already at the path is recorded, not fetched again."""
        try:
            if self.settings.verify_images:
                await run_in_pool(self.pool, verify_image, final)
            size, sha = await asyncio.to_thread(_hash_file, final)
        except CorruptImage:
            log.warning("existing_file_corrupt_refetching", path=item.path)
            return False
        relative = final.relative_to(root).as_posix()
        if await self.store.mark_downloaded(item.id, self.owner, relative, size, sha):
            log.info("existing_file_adopted", path=relative, bytes=size)
            if self.on_downloaded is not None:
                self.on_downloaded()
        return True

    async def _fail(self, item: Item, code: str, message: str) -> None:
        level = log.info if code == NOT_FOUND else log.warning
        level("download_failed", error_code=code, error=message, url=item.url)
        await self.store.mark_item_failed(item.id, self.owner, code, message)
