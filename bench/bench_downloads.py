#!/usr/bin/env python3
"""Benchmark: download throughput of plain ``aria2c -i list`` vs harvestd end to end.

One static file server (``tests/fakes/file_server.py --dir``: aiohttp + sendfile, a
separate process on 127.0.0.1) serves N files of M bytes. Measured side by side, same run,
same aria2c options (-j, -x, -s, -k, file allocation, disk cache):

  (a) plain: ``aria2c -i list.txt -d OUT`` — nothing but the transfer;
  (b) harvestd: items in the store → the aria2c controller (JSON-RPC, deterministic GIDs,
      reconcile) → staging → fsync + SHA-256 → atomic rename to the layout path → store.
      The clock includes starting aria2c, as (a) does.

Two workloads (defaults from issue 3): large files (20 × 50 MB) and many small ones
(2,000 × 100 KB). Prints every round, the medians' MB/s and files/s and the ratio (b)/(a).
Usage: python bench/bench_downloads.py [--large 20x50000000] [--small 2000x100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.config.load import load_config  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from daemon.resources import open_resources  # noqa: E402
from daemon.store import NewItem, SqliteStore  # noqa: E402

ARIA2 = {"max_concurrent_downloads": 5, "split": 4, "max_connection_per_server": 4,
         "min_split_size_mib": 20, "file_allocation": "none", "disk_cache_mib": 16}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_files(folder: Path, count: int, size: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, 1 << 20))
    names = []
    for i in range(count):
        name = f"f{i:05d}.bin"
        with (folder / name).open("wb") as fh:
            left = size
            while left > 0:
                fh.write(block[:left])
                left -= len(block[:left])
        names.append(name)
    return names


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("file server did not start")


def plain_aria2c(base: str, names: list[str], out: Path) -> float:
    """Seconds for ``aria2c -i list`` to fetch every file."""
    out.mkdir(parents=True)
    listing = out.parent / f"{out.name}.list"
    listing.write_text("".join(f"{base}{n}\n  out={n}\n" for n in names))
    cmd = ["aria2c", "-i", str(listing), "-d", str(out), f"-j{ARIA2['max_concurrent_downloads']}",
           f"-x{ARIA2['max_connection_per_server']}", f"-s{ARIA2['split']}",
           f"-k{ARIA2['min_split_size_mib']}M", f"--file-allocation={ARIA2['file_allocation']}",
           f"--disk-cache={ARIA2['disk_cache_mib']}M", "--console-log-level=warn",
           "--summary-interval=0", "--download-result=hide", "--auto-file-renaming=false"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


async def harvestd(base: str, names: list[str], work: Path) -> float:
    """Seconds for harvestd (store → aria2c → layout → store) to land every file."""
    await asyncio.to_thread(work.mkdir, parents=True)
    options = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in ARIA2.items())
    config = work / "config.toml"
    config.write_text(f"""
data_dir = "data"
[library]
root = "library"
[downloads]
backend = "aria2"
poll_interval_s = 0.5
verify_images = false
[downloads.aria2]
{options}
""")
    cfg = load_config(config)
    captured = datetime(2025, 1, 1, tzinfo=UTC)
    async with SqliteStore.open(cfg.db_path) as store:
        await store.add_items("bench", [NewItem(n, f"{base}{n}", captured, f"bench/{n[:4]}/{n}")
                                        for n in names])
    started = time.perf_counter()
    async with open_resources(cfg, "bench") as res:
        stop = asyncio.Event()
        task = asyncio.create_task(res.downloader.run(stop))
        while True:
            rows = await res.store._read("SELECT COUNT(*) FROM items WHERE status NOT IN"
                                         " ('processed', 'failed')")
            if rows[0][0] == 0:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        failed = await res.store._read("SELECT key, last_error FROM items WHERE status = 'failed'")
        stop.set()
        await task
    if failed:
        raise RuntimeError(f"{len(failed)} downloads failed, e.g. {failed[0][0]}: {failed[0][1]}")
    return elapsed


def parse_shape(text: str) -> tuple[int, int]:
    count, size = text.lower().split("x")
    return int(count), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", default="20x50000000", help="COUNTxBYTES (default 20x50000000)")
    parser.add_argument("--small", default="2000x100000", help="COUNTxBYTES (default 2000x100000)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where served and fetched files go (default: the system temp folder;"
                             " /dev/shm takes the VM's disk out of the comparison)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="repeat each pair, alternating who goes first; medians are compared")
    args = parser.parse_args()
    if shutil.which("aria2c") is None:
        sys.exit("aria2c is needed (Debian package 'aria2')")
    configure_logging("warning", "console")
    with tempfile.TemporaryDirectory(prefix="harvestd-bench-", dir=args.workdir) as tmp:
        tmp_path = Path(tmp)
        for label, shape in (("large", args.large), ("small", args.small)):
            count, size = parse_shape(shape)
            served = tmp_path / f"served-{label}"
            names = make_files(served, count, size)
            port = free_port()
            server = subprocess.Popen([sys.executable, "-m", "tests.fakes.file_server", "--port", str(port),
                                       "--dir", str(served)], cwd=ROOT)
            try:
                wait_port(port)
                base = f"http://127.0.0.1:{port}/files/"
                plain_s, daemon_s = [], []
                for r in range(args.rounds):
                    # alternate who goes first; flush the previous run's dirty pages (untimed)
                    # so neither contender pays for the other's write-back
                    order = ["plain", "daemon"] if r % 2 == 0 else ["daemon", "plain"]
                    for who in order:
                        os.sync()
                        out = tmp_path / f"{who}-{label}-{r}"
                        if who == "plain":
                            plain_s.append(plain_aria2c(base, names, out))
                        else:
                            daemon_s.append(asyncio.run(harvestd(base, names, out)))
                    os.sync()
                    shutil.rmtree(tmp_path / f"plain-{label}-{r}")
                    shutil.rmtree(tmp_path / f"daemon-{label}-{r}")
            finally:
                server.terminate()
                server.wait()
            total_mb = count * size / 1e6
            a, b = statistics.median(plain_s), statistics.median(daemon_s)
            print(f"{label}: {count} x {size / 1e6:g} MB = {total_mb:.0f} MB")
            print(f"  rounds (s): plain {[round(x, 2) for x in plain_s]},"
                  f" harvestd {[round(x, 2) for x in daemon_s]}")
            print(f"  plain aria2c -i list : {a:6.2f} s  {total_mb / a:7.1f} MB/s  {count / a:7.1f} files/s")
            print(f"  harvestd end to end  : {b:6.2f} s  {total_mb / b:7.1f} MB/s  {count / b:7.1f} files/s")
            print(f"  ratio harvestd/plain : {a / b:.2f}")
            shutil.rmtree(served)


if __name__ == "__main__":
    main()
