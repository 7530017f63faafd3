"""Chaos: the daemon SIGKILLed 10 times while a backfill runs beside it on the same store
(issue 11): nothing lost, nothing doubled, nothing left in staging or ``running``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sqlite3
import sys

import pytest

from tests.conftest import skycam_config_text
from tests.procs import DaemonProcess

pytestmark = pytest.mark.chaos
KILLS = 10
BACKFILL = ("2024-06-15T06:00", "2024-06-15T13:59")  # 48 slots, beside the daemon's own window


def one(db, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


async def test_daemon_kill_storm_beside_a_backfill(skycam, tmp_path):
    site, base = skycam
    site.latency_s = 0.2
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text(base, lookback_s=6 * 3600), encoding="utf-8")  # 36 slots
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    backfill = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "backfill", "sky", "--since", BACKFILL[0], "--until", BACKFILL[1],
        "--config", str(config), "--log-format", "json", "--no-progress", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    rng = random.Random(8)
    for _ in range(KILLS):
        daemon = await DaemonProcess.start(config, tmp_path, env)
        await daemon.wait_for(lambda e: e["event"] == "daemon_started")
        await asyncio.sleep(rng.uniform(0.3, 2.0))
        daemon.proc.kill()
        await daemon.proc.wait()
    _out, err = await asyncio.wait_for(backfill.communicate(), 180)
    assert backfill.returncode == 0, err.decode()[-3000:]
    daemon = await DaemonProcess.start(config, tmp_path, env)  # the last one runs until done
    db = tmp_path / "data" / "harvest.db"
    try:
        await daemon.wait_for(lambda e: e["event"] == "daemon_started")
        for _ in range(1200):
            if one(db, "SELECT COUNT(*) FROM items WHERE status != 'processed'") == 0 and \
                    one(db, "SELECT COUNT(*) FROM results WHERE status != 'completed'") == 0:
                break
            await asyncio.sleep(0.1)
        daemon.proc.terminate()
        assert await asyncio.wait_for(daemon.proc.wait(), 60) == 0
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.kill()
    items = one(db, "SELECT COUNT(*) FROM items")
    assert items >= 48 + 36
    assert one(db, "SELECT COUNT(*) FROM items WHERE status != 'processed'") == 0
    assert one(db, "SELECT COUNT(*) FROM results") == items  # one result per item
    assert one(db, "SELECT COUNT(*) FROM results WHERE status != 'completed'") == 0
    assert one(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'") == 0
    root = tmp_path / "library"
    served = {hashlib.sha256(b).hexdigest() for b in site.cache.values()}
    conn = sqlite3.connect(db)
    paths = conn.execute("SELECT path, sha256 FROM items").fetchall()
    conn.close()
    for path, sha in paths:
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == sha and sha in served
    final = [p for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts]
    assert len(final) == items
    staging = root / ".partial"
    assert not list(staging.glob("*")) if staging.exists() else True
    print(f"daemon storm: {KILLS} kills beside a backfill, {items} items, "
          f"{sum(site.requests.values()) / items:.2f} requests per item")
