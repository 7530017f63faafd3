"""Backfill beside a running daemon, interrupted with Ctrl-C, and killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from daemon.backfill import collect_specs, run_backfill
from daemon.resources import open_resources
from daemon.store import SqliteStore

RANGE = ("2024-06-15T10:00", "2024-06-15T17:59")  # 48 slots


async def test_backfill_beside_a_running_daemon_counts_exactly(skycam, write_config):
    site, base = skycam
    site.latency_s = 0.02
    site.gaps.add("2024-06-15T11:32")
    _, cfg = write_config(base)
    # a "daemon" on the same database: its own downloader and worker, for every source
    async with open_resources(cfg, "daemon") as daemon:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(daemon.downloader.run(stop)),
                 asyncio.create_task(daemon.worker.run(stop))]
        specs = await collect_specs(cfg, "sky", *RANGE)
        counts, _ = await run_backfill(cfg, "sky", specs)
        stop.set()
        await asyncio.gather(*tasks)
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (48, 47, 0, 1)
    assert sum(site.requests.values()) == 48  # every slot fetched exactly once
    async with SqliteStore.open(cfg.db_path) as store:
        rows = await store.result_rows("sky")
    assert len(rows) == 47 and {r["status"] for r in rows} == {"completed"}


async def _start_backfill(config: Path, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "backfill", "sky", "--since", RANGE[0], "--until", RANGE[1],
        "--config", str(config), "--log-format", "json", cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _wait_for_results(db: Path, at_least: int) -> None:
    for _ in range(400):
        if await asyncio.to_thread(db.exists):
            async with SqliteStore.open(db) as store:
                done = [r for r in await store.result_rows("sky") if r["status"] == "completed"]
            if len(done) >= at_least:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("backfill made no progress")


async def _backfill_under_way(skycam, write_config, tmp_path) -> tuple[asyncio.subprocess.Process, Path, Any]:
    """A backfill CLI process against a slow camera (0.1 s a request), 5 results in."""
    site, base = skycam
    site.latency_s = 0.1
    config, cfg = write_config(base)
    proc = await _start_backfill(config, tmp_path)
    await _wait_for_results(cfg.db_path, 5)
    return proc, config, cfg


def _summary(out: bytes) -> dict[str, str]:
    """``backfill sky: total=… new=…`` → {"total": "…", "new": "…", …}."""
    return dict(kv.split("=") for kv in out.decode().split(": ", 1)[1].split())


async def test_ctrl_c_then_rerun_completes_the_range(skycam, write_config, tmp_path):
    proc, config, cfg = await _backfill_under_way(skycam, write_config, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130, err.decode()[-2000:]
    first = _summary(out)
    assert int(first["total"]) == 48 and 5 <= int(first["new"]) < 48
    assert b"backfill_interrupted" in err
    async with SqliteStore.open(cfg.db_path) as store:
        busy = await store.busy_counts()
    assert busy["downloading"] == 0 and busy["processing"] == 0  # leases were released

    proc = await _start_backfill(config, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    second = _summary(out)
    assert int(second["duplicates"]) >= int(first["new"])
    assert int(second["new"]) + int(second["duplicates"]) == 48 and second["failed"] == "0"


async def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(skycam, write_config, tmp_path):
    proc, config, cfg = await _backfill_under_way(skycam, write_config, tmp_path)
    proc.kill()
    await proc.communicate()
    async with SqliteStore.open(cfg.db_path) as store:
        busy = await store.busy_counts()
    assert busy["downloading"] > 0  # the dead process still holds download leases (300 s)

    proc = await _start_backfill(config, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    # the dead process's leases were released at once instead of after lease_s (300 s)
    assert b"leases_of_dead_process_released" in err
    summary = _summary(out)
    assert int(summary["new"]) + int(summary["duplicates"]) == 48 and summary["failed"] == "0"
    async with SqliteStore.open(cfg.db_path) as store:
        rows = await store.result_rows("sky")
    assert len(rows) == 48 and {r["status"] for r in rows} == {"completed"}
    files = sorted(p.name for p in cfg.library.root.rglob("*") if p.is_file())
    assert len(files) == 48 and not [f for f in files if f.endswith(".part")]
