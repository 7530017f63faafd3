#!/usr/bin/env python3
"""Benchmark: claims + completions per second on one queue — 1, 2 and 4 worker processes on
PostgreSQL (``FOR UPDATE SKIP LOCKED``) and one process on SQLite, on the same synthetic queue
of 20,000 pending results (issue 15). Each worker process loops as the daemon's worker does:
``claim_results`` (a batch of 8, the default ``[worker] batch``), then ``complete_results`` of
the batch (its group commit), until the queue is empty. Every run checks the outcome: each
result completed exactly once.

Needs a PostgreSQL database (``--pg``, default ``postgresql:///harvestd_test``; each run uses a
fresh schema, dropped after).

Usage: python bench/bench_claims.py [--results 20000] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from daemon.store import NewItem, ResultOutput, Store, open_store  # noqa: E402

BATCH = 8
OUT = ResultOutput({"octas": 3}, "bench", "1", octas=3, cloud_fraction=0.4)


async def fill(store: Store, n: int) -> None:
    """``n`` downloaded items, each with one pending result (the same SQL on both engines)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await store.add_items("sky", [NewItem(f"k{i:06d}", f"http://cam/{i}.jpg", start + timedelta(minutes=10 * i),
                                          f"sky/{i}.jpg", ("octas",)) for i in range(n)])
    async with store._tx() as db:
        await db.execute("UPDATE items SET status = 'downloaded', path = url")
        await db.execute("INSERT INTO results (item_id, source, processor, created_at, updated_at)"
                         " SELECT id, source, 'octas', created_at, updated_at FROM items")


async def drain(path: str, url: str | None, owner: str) -> int:
    done = 0
    async with open_store(Path(path), url, pool_size=2) as store:
        while claimed := await store.claim_results(owner, BATCH, 300, 3):
            recorded = await store.complete_results(owner, [(c.id, OUT, 1.0) for c in claimed])
            done += sum(recorded)
    return done


def worker(path: str, url: str | None, owner: str, barrier: multiprocessing.synchronize.Barrier,
           out: multiprocessing.Queue[int]) -> None:
    barrier.wait()
    out.put(asyncio.run(drain(path, url, owner)))


def run(path: str, url: str | None, processes: int) -> float:
    """Drain the queue with ``processes`` worker processes; returns results per second."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    out: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(path, url, f"bench:{i}:w", barrier, out))
             for i in range(processes)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    done = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return done / elapsed


async def prepared(path: Path, url: str | None, n: int) -> None:
    async with open_store(path, url) as store:
        await fill(store, n)


async def check(path: Path, url: str | None, n: int) -> None:
    async with open_store(path, url) as store:
        counts = {(r["status"]): r["n"] for r in (await store.status_counts())["results"]}
        assert counts == {"completed": n}, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--pg", default="postgresql:///harvestd_test")
    args = parser.parse_args()
    n = args.results
    print(f"queue: {n:,} pending results; claim batches of {BATCH} + group completions")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        asyncio.run(prepared(db, None, n))
        rates["SQLite, 1 process"] = run(str(db), None, 1)
        asyncio.run(check(db, None, n))
        for processes in (1, 2, 4):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = f"{args.pg}{'&' if '?' in args.pg else '?'}options={quote(f'-csearch_path={schema}')}"
            try:
                asyncio.run(prepared(db, url, n))
                name = f"PostgreSQL, {processes} process{'es' if processes > 1 else ''}"
                rates[name] = run(str(db), url, processes)
                asyncio.run(check(db, url, n))
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    base = rates["PostgreSQL, 1 process"]
    for name, rate in rates.items():
        print(f"{name:<24} {rate:>9,.0f} claims+completions/s  ({rate / base:.2f}× PostgreSQL with 1)")


if __name__ == "__main__":
    main()
