#!/usr/bin/env python3
"""Benchmark: the dashboard on a store of 100,000 items (issue 14: each page under 200 ms of
server time on this 2-core box) and the overview's weight (goal: under 300 KB).

The store is ``bench_store_100k.py``'s (three sources, a year of statuses, 2,001 runs); the
app is the daemon's (``build_app`` with the dashboard, real downloader, worker and health
checks from ``open_resources``), asked over loopback by an aiohttp client on the same loop —
so each figure is the request as a browser sees it minus the network, median of ``--repeat``.

Usage: python bench/bench_dashboard.py [--items 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_store_100k as hundred_k  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from daemon.api.app import build_app  # noqa: E402
from daemon.api.health import HealthContext  # noqa: E402
from daemon.config.api import ApiSettings  # noqa: E402
from daemon.config.load import parse_config  # noqa: E402
from daemon.controls import Controls  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from daemon.resources import open_resources  # noqa: E402
from daemon.store import SqliteStore  # noqa: E402
from daemon.web.thumbs import Thumbnails  # noqa: E402
from daemon.web.views import WebContext  # noqa: E402

PAGES = ["/", "/api/overview", "/gallery/sky", "/gallery/sky?page=600", "/gallery/sky?status=failed",
         "/sky/sky?range=month", "/queues", "/api/queues"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configure_logging("warning", "console")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        data.mkdir()
        db = data / "harvest.db"
        per_source = args.items // len(hundred_k.SOURCES)
        async with SqliteStore.open(db) as store:
            for source in hundred_k.SOURCES:
                await store.add_items(source, hundred_k.specs(source, per_source))
        await asyncio.to_thread(hundred_k.shape, db)
        cfg = parse_config('data_dir = "data"\n[downloads]\nbackend = "builtin"\n', Path(folder) / "c.toml")
        async with open_resources(cfg, "bench") as res:
            health = HealthContext(res.store, res.downloader, res.worker, lambda: {"ok": True, "jobs": {}},
                                   lambda: 0.0, 5.0)
            kinds = {"sky": "skycam", "iss": "nasa_iss", "slooh": "slooh"}
            web_ctx = WebContext(res.store, Controls(res.store), lambda: kinds, lambda: cfg.library.root,
                                 Thumbnails(cfg.data_dir, res.pool), lambda: None)
            client = TestClient(TestServer(build_app(health, ApiSettings(), web_ctx=web_ctx)))
            await client.start_server()
            try:
                print(f"dashboard on a store of {per_source * 3:,} items, 3 sources; median of {args.repeat}")
                worst = 0.0
                for path in PAGES:
                    times = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        resp = await client.get(path)
                        body = await resp.read()
                        times.append(time.perf_counter() - started)
                        assert resp.status == 200, (path, resp.status, body[:200])
                    ms = statistics.median(times) * 1000
                    worst = max(worst, ms)
                    print(f"  GET {path:32s} {ms:7.1f} ms  ({len(body):,} bytes)")
                print(f"slowest {worst:.1f} ms; goal < 200 ms")
                html = await (await client.get("/")).text()
                weight = len(html.encode())
                for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
                    weight += len(await (await client.get(asset)).read())
                print(f"overview page weight (HTML + CSS + JS + icon): {weight / 1024:.1f} KB; goal < 300 KB")
            finally:
                await client.close()


if __name__ == "__main__":
    asyncio.run(main())
