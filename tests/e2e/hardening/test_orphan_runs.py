"""Issue 11 item 8: a run whose process was killed is closed as ``interrupted``, never left ``running``."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys

from daemon.resources import open_resources
from daemon.store import RunCounts, SqliteStore


async def test_killed_process_runs_are_closed_as_interrupted_at_the_next_start(write_config, tmp_path):
    _, cfg = write_config("http://127.0.0.1:9/")
    async with SqliteStore.open(cfg.db_path) as store:
        mine = await store.start_run("sky", "schedule")  # this process: alive
    # a run opened by another process that then died (SIGKILL: no finish_run)
    code = ("import asyncio, sys\n"
            "from daemon.store import SqliteStore\n"
            "async def main():\n"
            "    async with SqliteStore.open(__import__('pathlib').Path(sys.argv[1])) as store:\n"
            "        print(await store.start_run('sky', 'backfill'), flush=True)\n"
            "        await asyncio.sleep(60)\n"
            "asyncio.run(main())\n")
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(cfg.db_path),
                                                 stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    dead = int(await child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    await child.wait()

    async with open_resources(cfg, "daemon") as res:
        rows = {r["id"]: r for r in await res.store.last_runs(10)}
        assert rows[dead]["status"] == "interrupted" and rows[dead]["finished_at"]
        assert "killed" in rows[dead]["error"] or "gone" in rows[dead]["error"]
        assert rows[mine]["status"] == "running"  # its process (this one) is alive
        await res.store.finish_run(mine, RunCounts(), "ok")
    raw = sqlite3.connect(cfg.db_path)
    assert raw.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    raw.close()


async def test_a_run_cancelled_at_any_instant_is_never_left_running(skycam, write_config):
    """A scheduled run cancelled at stop after 0, 1, 2 … loop turns — inside ``start_run``'s
    commit, or again while its ``finish_run`` is shielded — is closed when the process's
    resources close (CI, issue 11: a daemon stopped right after its start-up run began left
    that run ``running`` with its own, live, owner)."""
    from datetime import UTC, datetime

    from daemon.pipeline import run_window
    from daemon.sources.registry import build_source

    site, base = skycam
    site.latency_s = 0.05
    _, cfg = write_config(base)
    for turns in range(0, 30):
        async with open_resources(cfg, "daemon") as res:
            source = build_source("sky", cfg.sources["sky"])
            run = run_window(res.store, source, datetime.now(UTC), "schedule", res.http)
            task = asyncio.create_task(run)
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            for _ in range(turns % 3):  # a second cancel while the run is being closed
                await asyncio.sleep(0)
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        raw = sqlite3.connect(cfg.db_path)
        running = raw.execute("SELECT id, owner FROM runs WHERE status = 'running'").fetchall()
        raw.close()
        assert running == [], f"cancelled after {turns} turns"
