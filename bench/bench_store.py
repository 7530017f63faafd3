#!/usr/bin/env python3
"""Benchmark: store writes — ``Store.add_items`` against plain ``sqlite3.executemany``.

Both insert the same realistic items (sky-camera slots with JSON metadata) in batches of
1,000 into the same kind of table (WAL, ``synchronous=NORMAL``, ``ON CONFLICT DO
NOTHING``), in one run, side by side; then ``add_items`` of the same items again (all
duplicates: the idempotent re-run of a backfill). Then the claim/complete paths of the
downloader and the worker over 20,000 items (the worker's one result at a time against its
group commit). Prints rows/s and the ratios.

Usage: python bench/bench_store.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.store import Downloaded, NewItem, SqliteStore  # noqa: E402
from daemon.store.models import ResultOutput  # noqa: E402

BATCH = 1000


def items(n: int) -> list[NewItem]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        t = start + timedelta(minutes=10 * i)
        out.append(NewItem(key=t.strftime("%Y-%m-%dT%H:%M"), url=f"http://cam/{t:%Y/%m%d%H%M}.jpg",
                           captured_at=t, path=f"sky/{t:%Y/%m/%d}/{t:%H%M}.jpg", processors=("octas",),
                           metadata={"latitude": -31.42, "longitude": -64.19, "sun_elevation_deg": 12.5}))
    return out


def raw_executemany(db: Path, specs: list[NewItem]) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, source TEXT, key TEXT, url TEXT,"
                 " captured_at TEXT, metadata TEXT, processors TEXT, path TEXT, status TEXT, created_at TEXT,"
                 " updated_at TEXT, UNIQUE (source, key))")
    started = time.perf_counter()
    for i in range(0, len(specs), BATCH):
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [("sky", s.key, s.url, s.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 json.dumps(s.metadata, sort_keys=True), json.dumps(list(s.processors)), s.path, "discovered",
                 now, now) for s in specs[i:i + BATCH]]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO items (source, key, url, captured_at, metadata, processors, path, status,"
                         " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
                         " ON CONFLICT (source, key) DO NOTHING", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def harvestd(db: Path, specs: list[NewItem]) -> tuple[float, float]:
    async with SqliteStore.open(db) as store:
        started = time.perf_counter()
        for i in range(0, len(specs), BATCH):
            await store.add_items("sky", specs[i:i + BATCH])
        first = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, len(specs), BATCH):
            await store.add_items("sky", specs[i:i + BATCH])
        again = time.perf_counter() - started
    return first, again


async def paths(db: Path, n: int) -> dict[str, float]:
    """The downloader path (claim 100, record them downloaded in one group commit) and the
    worker path (claim 8 results, record each output: one call per result as before, or one
    call for the 8 as the worker's group commit does now), over ``n`` items; seconds each."""
    specs = items(n)
    out = ResultOutput(output={"octas": 3, "cloud_fraction": 0.4}, model="rbr", model_version="1", octas=3,
                       cloud_fraction=0.4)
    times = {}
    async with SqliteStore.open(db) as store:
        await store.add_items("sky", specs)
        started = time.perf_counter()
        while claimed := await store.claim_items("D", 100, lease_s=600):
            await store.mark_downloaded_many("D", [Downloaded(it.id, it.path or "", 1000, "0" * 64)
                                                   for it in claimed])
        times["downloader"] = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(n // 16):  # half the results, one call per result
            for result in await store.claim_results("W", 8, lease_s=600, max_attempts=3):
                await store.complete_result(result.id, "W", out, 5.0)
        times["worker_each"] = time.perf_counter() - started
        started = time.perf_counter()
        while claimed_results := await store.claim_results("W", 8, lease_s=600, max_attempts=3):
            await store.complete_results("W", [(r.id, out, 5.0) for r in claimed_results])
        times["worker_batched"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    specs = items(args.rows)
    parser_paths = min(args.rows, 20_000)
    with tempfile.TemporaryDirectory() as folder:
        raw_s = raw_executemany(Path(folder) / "raw.db", specs)
        ours_s, again_s = asyncio.run(harvestd(Path(folder) / "harvest.db", specs))
        path_s = asyncio.run(paths(Path(folder) / "paths.db", parser_paths))
    n = args.rows
    print(f"sqlite3.executemany       {n / raw_s:>10,.0f} rows/s ({raw_s:.2f} s)")
    print(f"Store.add_items           {n / ours_s:>10,.0f} rows/s ({ours_s:.2f} s)  "
          f"= {raw_s / ours_s:.2f}× the plain executemany")
    print(f"Store.add_items (re-run)  {n / again_s:>10,.0f} rows/s ({again_s:.2f} s)  all duplicates")
    m = parser_paths
    print(f"downloader: claim 100 + record downloaded  {m / path_s['downloader']:>8,.0f} items/s ({m:,} items)")
    each, batched = m / 2 / path_s["worker_each"], m / 2 / path_s["worker_batched"]
    print(f"worker: claim 8 + complete one by one     {each:>8,.0f} results/s")
    print(f"worker: claim 8 + complete in one call    {batched:>8,.0f} results/s  = {batched / each:.2f}×")


if __name__ == "__main__":
    main()
