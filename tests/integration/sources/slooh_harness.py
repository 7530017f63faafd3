"""Helpers for the slooh tests: the imitation, a config for it, scheduled runs with downloads."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from daemon.config.load import load_config
from daemon.config.root import Config
from daemon.pipeline import run_window
from daemon.resources import open_resources
from daemon.sources.registry import build_source
from daemon.store import RunCounts, Store
from tests.conftest import fast_config_head

USER, PASSWORD = "stargazer@example.org", "hunter2-correct-horse"


def slooh_config(tmp_path: Path, base_url: str, extra: str = "", backend: str = "builtin",
                 password: str = PASSWORD) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(fast_config_head(backend, "retry_backoff_s = 0.05") + f"""
[sources.slooh]
kind = "slooh"
username = "${{SLOOH_USERNAME}}"
password = "${{SLOOH_PASSWORD}}"
base_url = "{base_url}"
page_size = 5
requests_per_minute = 6000
{extra}
""", encoding="utf-8")
    return load_config(path, env={"SLOOH_USERNAME": USER, "SLOOH_PASSWORD": password})


async def scheduled_run(cfg: Config, source_name: str = "slooh", timeout_s: float = 60.0) -> RunCounts:
    """One scheduled run (marks and all), then the downloader until nothing is waiting (also
    when the run fails: its exception is raised after the downloads)."""
    source = build_source(source_name, cfg.sources[source_name])
    async with open_resources(cfg, "test", source=source_name) as res:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(res.downloader.run(stop)), asyncio.create_task(res.worker.run(stop))]
        try:
            try:
                counts = await run_window(res.store, source, datetime.now(UTC), "schedule", res.http,
                                              on_enqueued=res.downloader.wake.set)
            finally:  # as in the daemon, what a failed run stored is still downloaded
                await wait_settled(res.store, source_name, timeout_s)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    return counts


async def wait_settled(store: Store, source_name: str, timeout_s: float) -> None:
    """Until no item of the source is waiting (discovered / downloading)."""
    async with asyncio.timeout(timeout_s):
        while any(s["waiting"] for s in await store.item_stats(source_name)):  # noqa: ASYNC110 - polls SQL
            await asyncio.sleep(0.05)


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def library_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and ".partial" not in p.parts)
