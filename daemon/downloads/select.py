"""``[downloads] backend``: which downloader this process runs.

``auto`` uses aria2c when the binary is found (and says so in the log), else the built-in
aiohttp downloader; ``aria2`` without a binary is a startup error; ``builtin`` never
starts aria2c.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import structlog

from daemon.config.root import Config
from daemon.downloads.aria2.controller import Aria2Downloader
from daemon.downloads.aria2.process import Aria2Missing, find_aria2c
from daemon.downloads.base import Downloader
from daemon.downloads.builtin import BuiltinDownloader
from daemon.http import HttpClient
from daemon.library.files import LibraryFiles
from daemon.store import Store

log = structlog.get_logger("daemon.downloads")


def runtime_dir(cfg: Config) -> Path:
    """systemd's ``$RUNTIME_DIRECTORY`` (first entry) when set, else the data folder."""
    first = (os.environ.get("RUNTIME_DIRECTORY") or "").split(":")[0]
    return Path(first) if first else cfg.data_dir


async def build_downloader(cfg: Config, store: Store, http: HttpClient, pool: Executor, owner: str, *,
                           name: str, source: str | None,
                           on_downloaded: Callable[[], None] | None,
                           files: LibraryFiles | None = None) -> Downloader:
    """The configured download backend (not started: ``await downloader.run(stop)``);
    ``files``: the library's files (an S3 library uploads through it).

    Raises:
        Aria2Missing: ``backend = "aria2"`` and no aria2c binary.
    """
    downloader = await _backend(cfg, store, http, pool, owner, name=name, source=source,
                                on_downloaded=on_downloaded)
    downloader.reconfigure(cfg)
    if files is not None:
        downloader.use_library(files)
    return downloader


async def _backend(cfg: Config, store: Store, http: HttpClient, pool: Executor, owner: str, *,
                   name: str, source: str | None,
                   on_downloaded: Callable[[], None] | None) -> Downloader:
    settings = cfg.downloads
    if settings.backend != "builtin":
        binary = await asyncio.to_thread(find_aria2c, settings.aria2.binary)  # stats $PATH
        if binary is not None:
            log.info("download_backend", backend="aria2", binary=binary)
            return Aria2Downloader(store, http, cfg.library, settings, pool, owner, binary=binary,
                                   name=f"aria2-{name}", state_dir=cfg.data_dir,
                                   runtime_dir=runtime_dir(cfg), source=source,
                                   on_downloaded=on_downloaded)
        if settings.backend == "aria2":
            raise Aria2Missing(
                f"downloads.backend = \"aria2\" but {settings.aria2.binary!r} was not found on PATH;"
                " install Debian's 'aria2' package, set downloads.aria2.binary, or use \"auto\"/\"builtin\""
            )
        log.warning("download_backend", backend="builtin",
                    reason=f"aria2c ({settings.aria2.binary!r}) not found on PATH")
    else:
        log.info("download_backend", backend="builtin", reason="configured")
    return BuiltinDownloader(store, http, cfg.library, settings, pool, owner, source=source,
                             on_downloaded=on_downloaded)
