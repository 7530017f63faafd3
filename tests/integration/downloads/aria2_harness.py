"""Shared set-up for the aria2c backend tests: a real aria2c, the imitation file host, a store."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.config.load import load_config
from daemon.config.root import Config
from daemon.downloads.aria2.controller import Aria2Downloader
from daemon.resources import Resources, open_resources
from daemon.store import NewItem

ARIA2_CONFIG = """
data_dir = "data"
[api]
listen = "127.0.0.1:0"
[library]
root = "library"
[downloads]
backend = "aria2"
poll_interval_s = 0.1
retry_backoff_s = 0.2
max_attempts = 3
on_existing = "{policy}"
[downloads.aria2]
max_concurrent_downloads = 5
split = 4
max_connection_per_server = 4
min_split_size_mib = 1
retry_wait_s = 0
max_tries = 1
auto_save_interval_s = 1
save_session_interval_s = 1
reconcile_interval_s = 0.3
"""


def require_aria2c() -> str:
    """The aria2c path. Missing: a failure when ``HARVESTD_REQUIRE_ARIA2C=1`` (CI), else a skip."""
    path = shutil.which("aria2c")
    if path is None:
        if os.environ.get("HARVESTD_REQUIRE_ARIA2C") == "1":
            pytest.fail("aria2c is required (HARVESTD_REQUIRE_ARIA2C=1) but not on PATH; "
                        "install Debian's 'aria2' package")
        pytest.skip("aria2c not installed (CI sets HARVESTD_REQUIRE_ARIA2C=1 and fails instead)")
    return path


def aria2_config(tmp_path: Path, policy: str = "skip", extra: str = "") -> Config:
    """A config using the aria2c backend with quick reconciles and control-file saves."""
    require_aria2c()
    path = tmp_path / "config.toml"
    path.write_text(ARIA2_CONFIG.format(policy=policy) + extra, encoding="utf-8")
    return load_config(path)


def file_item(base: str, name: str, path: str | None = None, checksum: str | None = None) -> NewItem:
    """An item for ``/files/<name>`` on the imitation host, filed at ``path``."""
    return NewItem(key=name, url=f"{base}files/{name}", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                   path=path or f"files/{name}", checksum=checksum)


@dataclass
class Running:
    """A downloader running in this event loop."""

    res: Resources
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def downloader(self) -> Aria2Downloader:
        assert isinstance(self.res.downloader, Aria2Downloader)
        return self.res.downloader

    async def settle(self, timeout_s: float = 60.0) -> dict[str, dict[str, object]]:
        """Wait until no item is discovered or downloading; returns rows by key."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            rows = {r["key"]: dict(r) for r in await self.res.store._read("SELECT * FROM items")}
            if rows and all(r["status"] in ("processed", "failed") for r in rows.values()):
                return rows
            if loop.time() > deadline:
                raise AssertionError(f"items did not settle: {rows}")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def running(cfg: Config) -> AsyncIterator[Running]:
    """Open the resources (store, HTTP, aria2c downloader) and run the downloader."""
    async with open_resources(cfg, "test") as res:
        stop = asyncio.Event()
        task = asyncio.create_task(res.downloader.run(stop))
        try:
            yield Running(res, stop, task)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


def library_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative POSIX paths, sorted), the staging folder included."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
