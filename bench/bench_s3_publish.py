#!/usr/bin/env python3
"""Benchmark: publishing to an S3 library — harvestd's upload (``ObjectLibrary.upload``: the
SHA-256 checksum header, the digest as object metadata, the duplicate policy's conditional
write) against a plain obstore ``put`` loop uploading the same files to the same endpoint,
both one file after the other and four at a time (the downloader's default concurrency),
side by side in one run (issue 15: ratio ≥ 0.8).

The endpoint is moto's S3 server on 127.0.0.1 (``moto[server]``, a dev dependency).

Usage: python bench/bench_s3_publish.py [--files 200] [--kib 512] [--big-mib 24]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import obstore as obs  # noqa: E402
from obstore.store import S3Store  # noqa: E402

from daemon.library.objects import CHUNK_BYTES, ObjectLibrary  # noqa: E402
from tests.s3 import moto_bucket  # noqa: E402


async def timed(files: list[tuple[Path, str, str, int]], upload, concurrency: int,  # type: ignore[no-untyped-def]
                round_name: str) -> float:
    """Upload every file under ``round_name/`` (new keys each round), ``concurrency`` at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(entry: tuple[Path, str, str, int]) -> None:
        path, key, sha, size = entry
        async with gate:
            await upload(path, f"{round_name}/{key}", sha, size)

    started = time.perf_counter()
    await asyncio.gather(*(one(f) for f in files))
    return time.perf_counter() - started


async def main_async(n: int, kib: int, big_mib: int) -> None:
    with tempfile.TemporaryDirectory() as folder, moto_bucket("bench") as bucket:
        files = []
        for i in range(n):
            path = Path(folder) / f"{i:04d}.jpg"
            path.write_bytes(os.urandom(kib << 10))
            files.append(path)
        big = Path(folder) / "big.tif"
        big.write_bytes(os.urandom(big_mib << 20))
        entries = [(p, f"sky/{p.name}", hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
                   for p in [*files, big]]
        total_mib = sum(e[3] for e in entries) / (1 << 20)
        ours = ObjectLibrary(f"s3://{bucket.name}/ours", bucket.endpoint_url)
        plain = S3Store(bucket.name, prefix="plain", client_options={"allow_http": True},
                        config={"endpoint": bucket.endpoint_url, "region": "us-east-1"})

        async def harvestd(path: Path, key: str, sha: str, size: int) -> None:
            await ours.upload(path, key, "skip", sha, size, "image/jpeg")  # on_existing's default

        async def plain_put(path: Path, key: str, sha: str, size: int) -> None:
            await obs.put_async(plain, key, path, chunk_size=CHUNK_BYTES)

        print(f"{n} files of {kib} KiB + one of {big_mib} MiB ({total_mib:.0f} MiB) to moto's S3 server")
        for concurrency in (1, 4):
            results = {}
            for name, fn in (("plain obstore put", plain_put), ("harvestd upload", harvestd)):
                results[name] = min([await timed(entries, fn, concurrency, f"c{concurrency}r{r}")
                                     for r in range(2)])
            ratio = results["plain obstore put"] / results["harvestd upload"]
            for name, secs in results.items():
                print(f"  {concurrency} at a time  {name:<18} {len(entries) / secs:>7.1f} files/s "
                      f"{total_mib / secs:>7.1f} MiB/s")
            print(f"  {concurrency} at a time  ratio harvestd / plain = {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kib", type=int, default=512)
    parser.add_argument("--big-mib", type=int, default=24)
    args = parser.parse_args()
    asyncio.run(main_async(args.files, args.kib, args.big_mib))


if __name__ == "__main__":
    main()
