#!/usr/bin/env python3
"""Benchmark: a NASA backfill's pages, images and camera files flow together (issue 13).

The imitation eol.jsc.nasa.gov (own thread and loop) holds ``--photos`` photos and answers
every request — API, ``photo.pl`` pages, images, camera files — after ``--latency-ms``.
Both contenders, in one run, with ``--connections`` connections each:

- the seed's way: the API rows, then every photo page with N threads, then every image and
  camera-metadata file with N threads (``urllib``), written to disk;
- harvestd: ``open_listing`` + ``run_backfill``, as ``harvestd backfill`` does (pages at
  ``page_concurrency`` = N, ``[downloads] concurrency`` = N transfers, built-in downloader,
  no processors), into its library.

Prints photos per second (page + image + camera file each) and the ratio. Goal ≥ 1.5×.
Usage: python bench/bench_nasa_pipeline.py [--photos 300] [--latency-ms 100] [--connections 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.threaded_site import serve_in_thread  # noqa: E402
from daemon.backfill import open_listing, run_backfill  # noqa: E402
from daemon.config.load import load_config  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from tests.fakes.nasa_eol_server import EolSite, synthetic_photos  # noqa: E402

KEY = "test-key"
CAMERA = re.compile(r"(/SearchPhotos/CameraMetadata/[^'\"]+\.txt)")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return bytes(resp.read())


def seed_way(base: str, photos: int, connections: int, folder: Path) -> float:
    """API, then all pages with N threads, then all files with N threads."""
    started = time.perf_counter()
    query = ("frames|mission|eq|ISS073|images|directory|like|*large*")
    rows = json.loads(get(f"{base}/SearchPhotos/PhotosDatabaseAPI/PhotosDatabaseAPI.pl?query={query}"
                          f"&return=images|directory|images|filename|frames|mission|frames|roll|frames|frame"
                          f"&key={KEY}"))
    assert len(rows) == photos, len(rows)
    with ThreadPoolExecutor(connections) as pool:
        pages = list(pool.map(lambda r: get(f"{base}/SearchPhotos/photo.pl?mission={r['frames.mission']}"
                                            f"&roll={r['frames.roll']}&frame={r['frames.frame']}"), rows))
    files = []
    for row, page in zip(rows, pages, strict=True):
        files.append((f"{base}/DatabaseImages/{row['images.directory']}/{row['images.filename']}",
                      folder / row["images.filename"]))
        if (m := CAMERA.search(page.decode(errors="replace"))) is not None:
            files.append((base + m.group(1), folder / Path(m.group(1)).name))
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(lambda f: f[1].write_bytes(get(f[0])), files))
    assert len(files) == 2 * photos, len(files)
    return time.perf_counter() - started


async def harvestd(base: str, connections: int, folder: Path) -> tuple[float, int]:
    config = folder / "config.toml"
    config.write_text(f"""
data_dir = "data"
[http]
limit_per_host = {2 * connections}
[http.hosts."127.0.0.1"]  # N connections for pages and N for downloads, as the seed's N threads per stage
requests_per_minute = 60000
max_concurrent = {2 * connections}
[downloads]
backend = "builtin"
concurrency = {connections}
poll_interval_s = 0.2
[sources.iss]
kind = "nasa_iss"
api_key = "{KEY}"
base_url = "{base}"
missions = ["ISS073"]
requests_per_minute = 60000
page_concurrency = {connections}
""")
    cfg = load_config(config)
    started = time.perf_counter()
    async with open_listing(cfg, "iss", "2025-01-01", "2025-12-31") as listing:
        counts, _ = await run_backfill(cfg, "iss", listing)
    return time.perf_counter() - started, counts.new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--connections", type=int, default=6)
    args = parser.parse_args()
    configure_logging("warning", "logfmt")
    site = EolSite(synthetic_photos(args.photos), api_keys={KEY})
    site.latency_s = site.files.latency_s = args.latency_ms / 1000
    base = serve_in_thread(site.app())
    with tempfile.TemporaryDirectory() as tmp:
        seed_dir, ours_dir = Path(tmp) / "seed", Path(tmp) / "harvestd"
        seed_dir.mkdir()
        ours_dir.mkdir()
        seed_s = seed_way(base, args.photos, args.connections, seed_dir)
        ours_s, new = asyncio.run(harvestd(base, args.connections, ours_dir))
    n = args.photos
    print(f"{n} photos (page + image + camera file), {args.latency_ms:g} ms per answer, "
          f"{args.connections} connections")
    print(f"  seed's way (pages, then files)  {n / seed_s:6.1f} photos/s  ({seed_s:.1f} s)")
    print(f"  harvestd backfill               {n / ours_s:6.1f} photos/s  ({ours_s:.1f} s, {new} items new)")
    print(f"  ratio {seed_s / ours_s:.2f}× (goal ≥ 1.5×)")


if __name__ == "__main__":
    main()
