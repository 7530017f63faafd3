#!/usr/bin/env python3
"""Benchmark: a NASA backfill over decades costs calls per photo, not per month (issue 13).

The imitation eol.jsc.nasa.gov (own thread and loop, ``--latency-ms`` before every answer)
holds one mission of 28 photos, all in 2025. Three backfills, each into a fresh store, all
in this run (requests_per_minute = 600): 2000-01-01…2030-12-31 with windows that follow the
data (the default), the same range with fixed 31-day windows (the old way:
``max_window_days = window_days``), and 2025 only. Printed: API calls, seconds, requests
per photo, and whether the three stored the same photos with the same fields. Goals: ≤ 16
API calls for 2000–2030 and ≤ 1.5× the time of the 2025-only backfill.
Usage: python bench/bench_nasa_windows.py [--latency-ms 100] [--photos 28] [--no-fixed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.threaded_site import serve_in_thread  # noqa: E402
from daemon.backfill import collect_specs, run_backfill  # noqa: E402
from daemon.config.load import load_config  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from tests.fakes.nasa_eol_server import EolSite, synthetic_photos  # noqa: E402


def photo_rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT key, path, captured_at, metadata FROM items ORDER BY key").fetchall()
    finally:
        conn.close()
    out = []
    for key, path, captured_at, metadata in rows:
        fields = json.loads(metadata)
        fields.pop("run", None)
        out.append((key, path, captured_at, json.dumps(fields, sort_keys=True)))
    return out


def write_config(base: str, folder: Path, fixed: bool) -> Path:
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(f"""
data_dir = "data"
[downloads]
backend = "builtin"
poll_interval_s = 0.2
[worker]
poll_interval_s = 0.2
[sources.iss]
kind = "nasa_iss"
api_key = "test-key"
base_url = "{base}"
missions = ["ISS073"]
requests_per_minute = 600
{"max_window_days = 31" if fixed else ""}
""")
    return config


async def backfill(base: str, folder: Path, since: str, until: str, fixed: bool) -> tuple[int, float, list]:
    cfg = load_config(write_config(base, folder, fixed))
    started = time.perf_counter()
    specs = await collect_specs(cfg, "iss", since, until)
    counts, _ = await run_backfill(cfg, "iss", specs)
    took = time.perf_counter() - started
    return counts.total, took, photo_rows(cfg.db_path)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--photos", type=int, default=28)
    parser.add_argument("--no-fixed", action="store_true", help="skip the fixed-window contender")
    parser.add_argument("-v", action="store_true", help="log at info level")
    args = parser.parse_args()
    configure_logging("info" if "-v" in sys.argv else "warning", "logfmt")
    site = EolSite(synthetic_photos(args.photos), api_keys={"test-key"})
    site.latency_s = args.latency_ms / 1000
    base = serve_in_thread(site.app())
    cases = [("2000–2030, adaptive windows", "2000-01-01", "2030-12-31", False)]
    if not args.no_fixed:
        cases.append(("2000–2030, fixed 31-day windows", "2000-01-01", "2030-12-31", True))
    cases.append(("2025 only", "2025-01-01", "2025-12-31", False))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, since, until, fixed) in enumerate(cases):
            calls_before, requests_before = len(site.queries), sum(site.requests.values())
            total, took, rows = await backfill(base, Path(tmp) / str(n), since, until, fixed)
            calls = len(site.queries) - calls_before
            requests = sum(site.requests.values()) - requests_before
            results[label] = (calls, took, rows)
            print(f"{label:34s} API calls {calls:4d}   {took:6.2f} s   total={total}   "
                  f"requests per photo {requests / args.photos:5.2f}", flush=True)
    adaptive, only = results[cases[0][0]], results["2025 only"]
    same = all(r[2] == only[2] for r in results.values())
    print(f"\n2000–2030 adaptive vs 2025 only: {adaptive[1] / only[1]:.2f}× the time (goal ≤ 1.5×), "
          f"{adaptive[0]} API calls (goal ≤ 16); same photos and fields in every case: {same}")


if __name__ == "__main__":
    asyncio.run(main())
