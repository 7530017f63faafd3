"""The long chaos run: kill -9 storms of a backfill on both backends, with figures.

For each backend: a 144-slot backfill of the imitation sky camera (0.3 s a request) is
SIGKILLed at ``--kills`` random instants and re-run each time, then run once to completion.
Printed per backend: kills that hit a running backfill, items lost (slots without a
processed item), duplicated (items beyond one per slot, results beyond one per item),
partial files at final paths, files left in staging, runs left ``running``, and the
refetch ratio (requests the camera served / slots).

    python bench/chaos.py [--kills 20] [--backends builtin aria2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.config.load import load_config  # noqa: E402
from tests.conftest import serve_app, skycam_config_text  # noqa: E402
from tests.fakes.skycam_server import SkycamSite  # noqa: E402

RANGE = ("2024-06-15T00:00", "2024-06-15T23:59")  # 144 slots
SLOTS = 144


async def backfill(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "backfill", "sky", "--since", RANGE[0], "--until", RANGE[1],
        "--config", str(config), "--log-format", "json", "--no-progress", cwd=config.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


async def storm(backend: str, kills: int, seed: int) -> dict[str, object]:
    site = SkycamSite(latency_s=0.3)
    rng = random.Random(seed)
    async with serve_app(site.app()) as base:
        folder = Path(tempfile.mkdtemp(prefix=f"harvestd-chaos-{backend}-"))
        config = folder / "config.toml"
        config.write_text(skycam_config_text(base, backend), encoding="utf-8")
        cfg = load_config(config)
        hit = 0
        started = time.perf_counter()
        for _ in range(kills):
            proc = await backfill(config)
            try:
                await asyncio.wait_for(proc.wait(), rng.uniform(0.5, 4.0))
            except TimeoutError:
                proc.kill()
                hit += 1
            await proc.communicate()
        await asyncio.sleep(2.1)
        proc = await backfill(config)
        _out, err = await proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"final run failed: {err.decode()[-2000:]}")
        db, root = cfg.db_path, cfg.library.root
        served = {hashlib.sha256(b).hexdigest() for b in site.cache.values()}
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT path, sha256 FROM items WHERE status = 'processed'").fetchall()
        conn.close()
        mismatched = sum(1 for path, sha in rows
                         if hashlib.sha256((root / path).read_bytes()).hexdigest() != sha or sha not in served)
        staging = root / ".partial"
        return {
            "backend": backend, "kills": hit, "seconds": round(time.perf_counter() - started, 1),
            "lost": SLOTS - count(db, "SELECT COUNT(*) FROM items WHERE status = 'processed'"),
            "duplicated": count(db, "SELECT COUNT(*) FROM items") - SLOTS
            + count(db, "SELECT COUNT(*) FROM results") - SLOTS,
            "not byte-identical": mismatched,
            "partial files": sum(1 for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts
                                 and p.name.endswith((".part", ".aria2"))),
            "left in staging": sum(1 for _ in staging.glob("*")) if staging.exists() else 0,
            "runs left running": count(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'"),
            "refetch ratio": round(sum(site.requests.values()) / SLOTS, 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--backends", nargs="+", default=["builtin", "aria2"])
    args = parser.parse_args()
    for i, backend in enumerate(args.backends):
        figures = asyncio.run(storm(backend, args.kills, seed=100 + i))
        print("  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
