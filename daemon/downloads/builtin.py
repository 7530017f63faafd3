"""The built-in downloader: aiohttp streaming through the shared :class:`HttpClient`.

Each claimed item is streamed into the staging folder (``<item id hex>-<name>.part``),
then sealed, verified and renamed into the library by :class:`Downloader.complete`. The
HTTP client retries quickly within one attempt; what still fails transiently (network,
5xx, 429) is retried by the store with backoff (``[downloads] max_attempts``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import structlog

from daemon.config.root import Config
from daemon.config.settings import DownloadSettings, LibrarySettings
from daemon.downloads.base import Downloader
from daemon.http import HttpClient
from daemon.library.publish import ChecksumMismatch, parse_digest_header
from daemon.store import Item, Store, StoreDamaged

log = structlog.get_logger("daemon.downloads")


class BuiltinDownloader(Downloader):
    """Download loop over the store (aiohttp streaming). ``await run(stop)`` until stopped."""

    backend = "builtin"

    def __init__(self, store: Store, http: HttpClient, library: LibrarySettings,
                 settings: DownloadSettings, pool: Executor, owner: str,
                 source: str | None = None,
                 on_downloaded: Callable[[], None] | None = None) -> None:
        super().__init__(store, library, settings, pool, owner, source, on_downloaded)
        self.http = http
        self._transfers = asyncio.Semaphore(settings.concurrency)

    @property
    def capacity(self) -> int:
        """Items in hand: ``concurrency`` transferring, as many more being finished (sealed,
        verified, published, recorded) — disk and CPU work never holds a connection slot."""
        return 2 * self.settings.concurrency

    def reconfigure(self, cfg: Config) -> None:
        """As :meth:`Downloader.reconfigure`; a new ``concurrency`` applies to the next transfers."""
        if cfg.downloads.concurrency != self.settings.concurrency:
            self._transfers = asyncio.Semaphore(cfg.downloads.concurrency)
        super().reconfigure(cfg)

    async def handle(self, work: Item) -> None:
        # every line logged while downloading this item (HTTP retries too) names it
        with structlog.contextvars.bound_contextvars(source=work.source, key=work.key):
            await self._download_item(work)

    async def _download_item(self, item: Item) -> None:
        part: Path | None = None
        try:
            target = await self.target(item)
            if await self.adopt_existing(item, target):
                return
            part = self.staging_path(item, target.final).with_suffix(target.final.suffix + ".part")
            for refetch in (False, True):
                async with self._transfers:  # at most ``concurrency`` transfers at once
                    fetched = await self.http.download(item.url or "", part)
                # the source's checksum, else the server's Digest / Content-MD5 header (as aria2c does)
                checksum = item.checksum or parse_digest_header(fetched.digest_header)
                try:
                    await self.complete(item, target, part, checksum=checksum)
                    break
                except ChecksumMismatch as exc:
                    if refetch:
                        raise
                    log.warning("download_checksum_mismatch_refetching", error=str(exc))
        except asyncio.CancelledError:
            raise
        except StoreDamaged:  # the database, not the item: stop (never label the item)
            raise
        except Exception as exc:  # one bad item never kills the loop
            await self.record_failure(item, exc)
        finally:
            if part is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(part.unlink, True)
