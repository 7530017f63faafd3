#!/usr/bin/env python3
"""Benchmark: a store of 100,000 items stays fast (issue 13).

Fills a store with ``--items`` items of three sources through ``Store.add_items``, then
gives them the statuses a year of work leaves: most processed with a completed octas result,
a few thousand failed (404 and 503), some downloaded and waiting for the worker, some
discovered and waiting for the downloader, plus 2,000 runs. Then times, each the median of
``--repeat`` calls, the store queries behind ``harvestd status`` (status counts, last runs,
last errors, source health, transfers), ``harvestd stats`` (item stats, failure codes, run
stats, library paths), ``/api/queues/status`` (status counts), ``/api/health`` (ping, busy
counts, source health) and the claims of the downloader and the worker. Goal: each ≤ 100 ms.
Usage: python bench/bench_store_100k.py [--items 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.store import NewItem, RunCounts, SqliteStore  # noqa: E402

SOURCES = ("sky", "iss", "slooh")


def specs(source: str, n: int) -> list[NewItem]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [NewItem(f"{source}-{i:07d}", f"http://x/{source}/{i}.jpg", start + timedelta(minutes=10 * i),
                    f"{source}/{i // 1000}/{i}.jpg", ("octas",), {"latitude": -31.4, "n": i})
            for i in range(n)]


def shape(db: Path) -> None:
    """A year of work, in one transaction of plain SQL (the bench times reads, not this)."""
    import sqlite3

    conn = sqlite3.connect(db)
    now = time.time()
    conn.executescript(f"""
        UPDATE items SET status = 'processed', path = key || '.jpg', bytes = 50000, sha256 = 'x',
               updated_at = '2025-06-01T00:00:00Z' WHERE id % 100 >= 6;
        UPDATE items SET status = 'failed', error_code = 'not_found', last_error = 'HTTP 404'
               WHERE id % 100 = 0;
        UPDATE items SET status = 'failed', error_code = 'http_error', last_error = 'HTTP 503 after 4 attempts'
               WHERE id % 100 = 1;
        UPDATE items SET status = 'discovered', attempts = 1, next_attempt_at = {now + 3600},
               error_code = 'http_error' WHERE id % 100 = 2;
        UPDATE items SET status = 'downloaded', path = key || '.jpg' WHERE id % 100 IN (3, 4);
        INSERT INTO results (item_id, source, processor, status, output, octas, created_at, updated_at)
               SELECT id, source, 'octas', CASE status WHEN 'processed' THEN 'completed' ELSE 'pending' END,
                      '{{"octas": 3}}', 3, 'x', 'x'
               FROM items WHERE status IN ('processed', 'downloaded');
    """)
    conn.executemany("INSERT INTO runs (source, trigger, started_at, finished_at, status, total, new)"
                     " VALUES (?, 'schedule', ?, ?, 'ok', 6, 6)",
                     [(SOURCES[i % 3], f"2025-01-01T{i % 24:02d}:00:00Z", "2025-01-01T00:01:00Z")
                      for i in range(2000)])
    conn.commit()
    conn.close()


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "harvest.db"
        per_source = args.items // len(SOURCES)
        async with SqliteStore.open(db) as store:
            for source in SOURCES:
                await store.add_items(source, specs(source, per_source))
        await asyncio.to_thread(shape, db)
        async with SqliteStore.open(db) as store:
            run = await store.start_run("sky", "schedule")
            await store.finish_run(run, RunCounts(total=6, new=6), "ok")

            async def status() -> None:
                await store.status_counts()
                await store.last_runs(10)
                await store.last_errors(10)
                await store.source_health()
                await store.transfers(20)

            async def stats() -> None:
                await store.item_stats(None)
                await store.failure_codes(None)
                await store.run_stats(None)

            async def health() -> None:
                await store.ping()
                await store.busy_counts()
                await store.source_health()

            async def claim_items() -> None:
                claimed = await store.claim_items("D", 100, lease_s=600)
                await store.release_items("D", [it.id for it in claimed])

            async def claim_results() -> None:
                await store.claim_results("W", 8, lease_s=600, max_attempts=3)
                await store.release_results("W")

            cases = [("harvestd status (5 queries)", status), ("harvestd stats (3 queries)", stats),
                     ("harvestd stats: library paths", lambda: store.item_paths(None)),
                     ("/api/queues/status", store.status_counts), ("/api/health (3 queries)", health),
                     ("downloader claim 100 + release", claim_items),
                     ("worker claim 8 + release", claim_results)]
            print(f"store of {per_source * len(SOURCES):,} items, {len(SOURCES)} sources, 2,001 runs; "
                  f"median of {args.repeat}")
            worst = 0.0
            for label, call in cases:
                ms = await timed(call, args.repeat)
                worst = max(worst, ms) if "paths" not in label else worst
                print(f"  {label:34s} {ms:8.1f} ms")
            print(f"slowest (library paths aside: they list every file) {worst:.1f} ms; goal ≤ 100 ms")


if __name__ == "__main__":
    asyncio.run(main())
