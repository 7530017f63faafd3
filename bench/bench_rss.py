#!/usr/bin/env python3
"""Benchmark: the daemon's memory over a 10,000-item run stays flat (issue 13).

Runs ``harvestd run`` (daemon mode, built-in downloader, so the process measured is the one
doing all the work) against the imitation sky camera (its own thread), posts one backfill
task of ``--items`` camera slots through the API, and samples the daemon's RSS
(``/proc/PID/status`` VmRSS) every ``--every-s`` seconds until every item is processed.
Prints the curve (seconds, items processed, RSS MiB) and the spread of RSS after warm-up
(the first 10 % of the items). Goal: flat after warm-up, within ± 10 MB.
Usage: python bench/bench_rss.py [--items 10000] [--every-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.threaded_site import serve_in_thread  # noqa: E402
from tests.conftest import skycam_config_text  # noqa: E402
from tests.fakes.skycam_server import SkycamSite  # noqa: E402


def rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


def processed(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM items WHERE status IN ('processed', 'failed')")
                   .fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--every-s", type=float, default=5.0)
    args = parser.parse_args()
    base = serve_in_thread(SkycamSite().app())
    start = datetime(2024, 1, 1, 0, 0)
    until = start + timedelta(minutes=10 * args.items - 1)  # slots at :02, :12, … : one per 10 min
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text(skycam_config_text(base + "/", lookback_s=600), encoding="utf-8")
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "json",
            cwd=folder, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert daemon.stderr is not None
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def read_log(stream: asyncio.StreamReader) -> None:  # drained to the end: a full
            while line := await stream.readline():  # pipe would stall the daemon's logging
                if not listening.done() and b'"api_listening"' in line:
                    listening.set_result(json.loads(line)["url"])

        drain = asyncio.create_task(read_log(daemon.stderr))
        api = (await asyncio.wait_for(listening, 60)).rsplit("/api/", 1)[0]
        async with aiohttp.ClientSession() as http:
            task = {"kind": "backfill", "source": "sky", "since": f"{start:%Y-%m-%dT%H:%M}",
                    "until": f"{until:%Y-%m-%dT%H:%M}"}
            async with http.post(f"{api}/api/tasks", json=task) as resp:
                assert resp.status == 202, await resp.text()
        db = folder / "data" / "harvest.db"
        began = time.monotonic()
        curve: list[tuple[float, int, float]] = []
        while True:
            done = await asyncio.to_thread(processed, db)
            curve.append((time.monotonic() - began, done, rss_mib(daemon.pid)))
            print(f"{curve[-1][0]:7.0f} s  {done:6d} items  RSS {curve[-1][2]:7.1f} MiB", flush=True)
            if done >= args.items:
                break
            await asyncio.sleep(args.every_s)
        daemon.terminate()
        await daemon.wait()
        await drain
    warm = [rss for _, done, rss in curve if done >= args.items // 10]
    print(f"\n{args.items} items in {curve[-1][0]:.0f} s; RSS after warm-up: min {min(warm):.1f}, "
          f"max {max(warm):.1f} MiB, spread {max(warm) - min(warm):.1f} MiB (goal ≤ 10 MB ≈ 9.5 MiB)")


if __name__ == "__main__":
    asyncio.run(main())
