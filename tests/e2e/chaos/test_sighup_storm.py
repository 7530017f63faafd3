"""Chaos: SIGHUP storms under load, half of them with an invalid file (issue 11)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3

import aiohttp
import pytest

from tests.conftest import skycam_config_text
from tests.procs import DaemonProcess

pytestmark = pytest.mark.chaos
RELOADS = 100


async def test_sighup_storm_keeps_the_daemon_alive_and_the_work_whole(skycam, tmp_path):
    site, base = skycam
    site.latency_s = 0.05
    config = tmp_path / "config.toml"
    good = skycam_config_text(base, lookback_s=6 * 3600)  # 36 slots to fetch and classify as load
    bad = good + "\n[sources.sky.bogus]\n"
    config.write_text(good, encoding="utf-8")
    daemon = await DaemonProcess.start(config, tmp_path, {**os.environ, "PYTHONUNBUFFERED": "1"})
    proc = daemon.proc
    try:
        api = await daemon.wait_for(lambda e: e["event"] == "api_listening")
        rng = random.Random(5)
        invalid_sent = 0
        for i in range(RELOADS):
            invalid = i % 2 == 1
            invalid_sent += invalid
            config.write_text(bad if invalid else good, encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            if invalid:  # let this one be read before the file changes again
                await daemon.wait_count("reload_rejected", 1, timeout_s=30)
        config.write_text(good, encoding="utf-8")
        assert proc.returncode is None, "\n".join(daemon.raw[-20:])
        rejected = [e for e in daemon.events if e["event"] == "reload_rejected"]
        assert rejected and all("sources.sky.bogus" in e["reason"] for e in rejected)
        async with aiohttp.ClientSession() as session, session.get(api["url"]) as resp:
            health = await resp.json()
        assert resp.status == 200 and health["status"] in ("ok", "degraded"), health
        # the load finishes: every slot fetched once and classified once
        for _ in range(600):
            rows = sqlite3.connect(tmp_path / "data" / "harvest.db").execute(
                "SELECT COUNT(*) FROM results WHERE status = 'completed'").fetchone()
            if rows[0] >= 36:
                break
            await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        await daemon._reader
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    db = sqlite3.connect(tmp_path / "data" / "harvest.db")
    try:
        (items,) = db.execute("SELECT COUNT(*) FROM items").fetchone()
        (done,) = db.execute("SELECT COUNT(*) FROM results WHERE status = 'completed'").fetchone()
        (results,) = db.execute("SELECT COUNT(*) FROM results").fetchone()
    finally:
        db.close()
    assert items == results == done >= 36
    assert sum(site.requests.values()) == items  # no slot fetched twice
    assert not [e for e in daemon.events if e["event"] in ("component_died", "work_task_crashed")]
    print(f"SIGHUP storm: {RELOADS} signals ({invalid_sent} invalid files), {len(rejected)} rejected, "
          f"{daemon.count('config_reloaded')} applied, alive; {items} items fetched once each")
