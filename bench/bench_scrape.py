#!/usr/bin/env python3
"""Benchmark: politeness and rate of NASA photo-page scraping against a slow imitation site.

The imitation eol.jsc.nasa.gov (run in its own thread and event loop) answers each ``photo.pl`` after
``--latency-ms`` (default 100 ms). harvestd's nasa_iss source enriches N new photos with
``requests_per_minute = --rpm`` (default 120) and ``page_concurrency`` 4. Server-side
timestamps of the page requests give the achieved rate (target ≥ 0.95 of the limit) and
the most requests seen in any window of one spacing (must be 1: never above the limit).
Usage: python bench/bench_scrape.py [--pages 60] [--rpm 120] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.threaded_site import serve_in_thread  # noqa: E402
from daemon.config.load import load_config  # noqa: E402
from daemon.config.settings import HttpSettings  # noqa: E402
from daemon.http import HttpClient  # noqa: E402
from daemon.sources.registry import build_source  # noqa: E402
from tests.fakes.nasa_eol_server import EolSite, synthetic_photos  # noqa: E402


async def scrape(base: str, pages: int, rpm: float, tmp: Path) -> None:
    config = tmp / "config.toml"
    config.write_text(f"""
data_dir = "data"
[sources.iss]
kind = "nasa_iss"
api_key = "test-key"
base_url = "{base}"
requests_per_minute = {rpm}
page_concurrency = 4
window_days = 3650
""")
    cfg = load_config(config)
    source = build_source("iss", cfg.sources["iss"])
    async with HttpClient(HttpSettings()) as http:
        specs = [s async for s in source.backfill("2025-01-01", "2025-12-31", http)]
        assert len(specs) == pages, len(specs)
        enriched = await source.enrich(specs, http)
        assert sum(1 for s in enriched if s.error) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rpm", type=float, default=120.0)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    site = EolSite(synthetic_photos(args.pages))
    site.latency_s = args.latency_ms / 1000
    base = serve_in_thread(site.app())
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scrape(base, args.pages, args.rpm, Path(tmp)))
    times = sorted(site.page_times)
    spacing = 60 / args.rpm
    achieved = (len(times) - 1) / (times[-1] - times[0]) * 60
    tightest = min(b - a for a, b in itertools.pairwise(times))
    print(f"photo pages: {len(times)} at {args.latency_ms:g} ms latency, limit {args.rpm:g}/min")
    print(f"  achieved rate      : {achieved:7.1f} pages/min ({achieved / args.rpm:.3f} of the limit)")
    print(f"  closest two pages  : {tightest:.3f} s apart (limit spacing {spacing:.3f} s)")


if __name__ == "__main__":
    main()
