"""The daemon as a subprocess: start, scheduled harvest, SIGHUP (valid, invalid), SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp

from tests.conftest import skycam_config_text
from tests.procs import DaemonProcess


def _notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


async def test_daemon_runs_reloads_and_stops_cleanly(skycam, tmp_path):
    _site, base = skycam
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text(base, lookback_s=3600), encoding="utf-8")
    notify_path = tmp_path / "notify.sock"
    sock = _notify_socket(notify_path)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "2000000",
           "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHDOG_PID", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "json",
        cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    daemon = DaemonProcess(proc)
    try:
        await daemon.wait_for(lambda e: e["event"] == "daemon_started")
        # run_on_start: the look-back hour of the camera's clock is harvested and classified
        enq = await daemon.wait_for(lambda e: e["event"] == "harvest_enqueued")
        assert enq["source"] == "sky" and enq["total"] in (6, 7) and enq["new"] == enq["total"]
        done = await daemon.wait_for(lambda e: e["event"] == "result_completed", timeout_s=60)
        assert done["source"] == "sky" and done["processor"] == "octas" and done["key"]
        await asyncio.sleep(2.5)  # one watchdog period
        messages = "\n".join(_drain(sock))
        assert "READY=1" in messages and "WATCHDOG=1" in messages
        # the HTTP API runs on the same loop: health names its checks and the sky job
        api = await daemon.wait_for(lambda e: e["event"] == "api_listening")
        async with aiohttp.ClientSession() as session, session.get(api["url"]) as resp:
            health = await resp.json()
        assert resp.status == 200, health
        assert "source:sky" in health["checks"]["scheduler"]["jobs"] and health["checks"]["store"]["ok"]

        # a reload with nothing changed reschedules nothing (interval phases are kept)
        mark = len(daemon.events)
        proc.send_signal(signal.SIGHUP)
        noop = await daemon.wait_for(lambda e: e["event"] == "config_reloaded", start=mark)
        assert noop["changed"] == [] and noop["jobs_added"] == noop["jobs_rescheduled"] == []

        # valid reload: a second source appears as a new job, the first one's schedule changes
        mark = len(daemon.events)
        config.write_text(
            skycam_config_text(base, lookback_s=3600, schedule='"*/5 * * * *"')
            + "\n[sources.sky2]\nkind = \"skycam\"\n"
            + f"url_template = \"{base}meteorologia/cielo/image/{{year_dir}}{{t:%Y}}-{{t:%m%d%H%M}}.jpg\"\n"
            + "minutes = [2]\nlatitude = -31.4\nlongitude = -64.2\nrun_on_start = false\n",
            encoding="utf-8",
        )
        proc.send_signal(signal.SIGHUP)
        reloaded = await daemon.wait_for(lambda e: e["event"] == "config_reloaded", start=mark)
        assert reloaded["jobs_added"] == ["sky2"] and reloaded["jobs_rescheduled"] == ["sky"]
        assert reloaded["changed"] == ["sources.sky", "sources.sky2"]
        await asyncio.sleep(0.2)
        messages = "\n".join(_drain(sock))
        assert "RELOADING=1" in messages and "MONOTONIC_USEC=" in messages

        # invalid reload: rejected with the reason, the daemon keeps running on the old config
        mark = len(daemon.events)
        config.write_text(config.read_text() + "\n[sources.sky2.bogus]\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        rejected = await daemon.wait_for(lambda e: e["event"] == "reload_rejected", start=mark)
        assert "sources.sky2.bogus" in rejected["reason"] and "unknown key" in rejected["reason"]
        assert proc.returncode is None

        # SIGTERM: graceful, in order, nothing left in flight
        mark = len(daemon.events)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
        await daemon._reader
        assert code == 0, "\n".join(daemon.raw[-30:])
        stopped = await daemon.wait_for(lambda e: e["event"] == "daemon_stopped", start=mark)
        assert stopped["exit_status"] == 0
        assert "STOPPING=1" in "\n".join(_drain(sock))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        sock.close()

    db = sqlite3.connect(tmp_path / "data" / "harvest.db")
    try:
        busy_items = db.execute("SELECT COUNT(*) FROM items WHERE status IN ('downloading', 'processing')")
        busy_results = db.execute("SELECT COUNT(*) FROM results WHERE status = 'processing'")
        assert busy_items.fetchone()[0] == 0 and busy_results.fetchone()[0] == 0
        (completed,) = db.execute("SELECT COUNT(*) FROM results WHERE status = 'completed'").fetchone()
        assert completed >= 1
        runs = db.execute("SELECT source, trigger, status FROM runs").fetchall()
        assert ("sky", "schedule", "ok") in runs
    finally:
        db.close()


async def test_daemon_exits_1_with_a_reason_when_the_data_folder_is_unusable(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{blocker}/data"\n', encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "json",
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "startup_failed"]
    assert failed and "Not a directory" in failed[0]["reason"] and failed[0]["level"] == "critical"
