#!/usr/bin/env python3
"""Benchmark: the slooh source's listing cost — harvestd's walk vs a bare walk, and what an
incremental run costs — against the imitation Slooh on 127.0.0.1, side by side in one run.

(a) bare: log in, walk the photo roll and the missions page by page and ask each mission's
    FITS list, keeping nothing (the least any client must do);
(b) harvestd, first run: the same walk through ``run_window`` — items built, every page
    stored in SQLite before the next is asked for, marks saved (downloads not included);
(c) harvestd, the next run with nothing new: stops at the mark;
(d) harvestd, after 5 new missions.
Each API answer is delayed by ``--latency-ms`` (the real site takes ~17 s for 50 items;
0 shows harvestd's own overhead). Prints seconds, API calls and the ratio (b)/(a).
Usage: python bench/bench_slooh.py [--missions 1000] [--page-size 50] [--latency-ms 0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.config.load import parse_config  # noqa: E402
from daemon.config.settings import HttpSettings  # noqa: E402
from daemon.http import HttpClient  # noqa: E402
from daemon.pipeline import run_window  # noqa: E402
from daemon.sources.registry import build_source  # noqa: E402
from daemon.sources.slooh.api import SloohApi  # noqa: E402
from daemon.sources.slooh.paging import walk_pages  # noqa: E402
from daemon.store import SqliteStore  # noqa: E402
from tests.conftest import serve_app  # noqa: E402
from tests.fakes.slooh_server import SloohSite  # noqa: E402

USER, PASSWORD = "bench@example.org", "bench-password"


async def bare_walk(base: str, page_size: int) -> int:
    """Everything a client must ask for; returns how many files it found."""
    found = 0
    async with HttpClient(HttpSettings()) as http:
        api = SloohApi(http, base, USER, PASSWORD, "p")
        await api.login()

        async def pictures(first: int, count: int):  # type: ignore[no-untyped-def]
            page = await api.pictures(first, count)
            return page.items, page.total

        async def missions(first: int, count: int):  # type: ignore[no-untyped-def]
            page = await api.missions(first, count)
            return page.items, page.total

        async for items in walk_pages(pictures, page_size):
            found += len(items)
        async for items in walk_pages(missions, page_size):
            for mission in items:
                if mission.get("fitsIsAvailable"):
                    found += len(await api.mission_fits(mission["scheduledMissionId"]))
    return found


async def harvest(base: str, page_size: int, folder: Path) -> tuple[int, int]:
    """One scheduled run's discovery into the store at ``folder``; (total, new)."""
    text = f"""
data_dir = "{folder}"
[sources.slooh]
kind = "slooh"
username = "{USER}"
password = "{PASSWORD}"
base_url = "{base}"
page_size = {page_size}
requests_per_minute = 1000000
"""
    cfg = parse_config(text, folder / "config.toml", env={})
    source = build_source("slooh", cfg.sources["slooh"])
    async with SqliteStore.open(cfg.db_path) as store, HttpClient(cfg.http) as http:
        counts = await run_window(store, source, datetime.now(UTC), "schedule", http)
    return counts.total, counts.new


async def timed(coro):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = await coro
    return time.perf_counter() - start, result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missions", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    site = SloohSite(missions=args.missions, username=USER, password=PASSWORD)
    n_files = len(site.all_files())
    print(f"account: {args.missions} missions, {n_files} files (PNG + FITS); page size {args.page_size}; "
          f"API latency {args.latency_ms:.0f} ms")
    bare_s, first_s, again_s, new_s = [], [], [], []
    calls: dict[str, int] = {}
    site.api_delay_s = args.latency_ms / 1000
    async with serve_app(site.app()) as url:
        base = url.rstrip("/")
        for n in range(args.rounds):  # alternate the order: no contender always warms the other
            with tempfile.TemporaryDirectory() as tmp:
                order = ["bare", "harvest"] if n % 2 == 0 else ["harvest", "bare"]
                for who in order:
                    if who == "bare":
                        seconds, found = await timed(bare_walk(base, args.page_size))
                        assert found == n_files, found
                        bare_s.append(seconds / found)
                    else:
                        before = sum(site.calls.values())
                        seconds, (total, new) = await timed(harvest(base, args.page_size, Path(tmp)))
                        assert (total, new) == (n_files, n_files), (total, new)
                        first_s.append(seconds / total)  # seconds per item stored
                        calls["first"] = sum(site.calls.values()) - before
                before = sum(site.calls.values())
                seconds, (total, new) = await timed(harvest(base, args.page_size, Path(tmp)))
                assert new == 0, new
                again_s.append(seconds)
                calls["again"] = sum(site.calls.values()) - before
                for _ in range(5):
                    site.add_mission()
                before = sum(site.calls.values())
                seconds, (total, new) = await timed(harvest(base, args.page_size, Path(tmp)))
                assert new == 20, new
                new_s.append(seconds)
                calls["new"] = sum(site.calls.values()) - before
                n_files += 20
        med = statistics.median
        print(f"(a) bare walk:                 {1000 * med(bare_s):7.3f} ms/item  rounds "
              f"{[round(1000 * x, 3) for x in bare_s]}")
        print(f"(b) harvestd first run:        {1000 * med(first_s):7.3f} ms/item  rounds "
              f"{[round(1000 * x, 3) for x in first_s]}  API calls {calls['first']}"
              f"  → {1 / med(first_s):,.0f} items/s stored")
        print(f"    ratio (b)/(a) per item: {med(first_s) / med(bare_s):.2f}")
        print(f"(c) next run, nothing new:     {med(again_s):7.3f} s  API calls {calls['again']}")
        print(f"(d) next run, 5 new missions:  {med(new_s):7.3f} s  API calls {calls['new']}")


if __name__ == "__main__":
    asyncio.run(main())
