"""The daemon (a real ``harvestd run`` process) killed with SIGKILL mid-download, then restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from daemon.config.load import load_config
from daemon.store import SqliteStore
from tests.integration.downloads.aria2_harness import ARIA2_CONFIG, file_item, library_files, require_aria2c
from tests.procs import DaemonProcess

MIB = 1 << 20




def _statuses(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT key, status FROM items").fetchall())
    finally:
        conn.close()


async def _cli(*args: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "daemon", *args, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_daemon_killed_mid_download_restarts_and_completes_without_duplicates(filesite, tmp_path):
    require_aria2c()
    site, base = filesite
    config = tmp_path / "config.toml"
    config.write_text(ARIA2_CONFIG.format(policy="skip") + "[daemon]\nshutdown_timeout_s = 20\n",
                      encoding="utf-8")
    cfg = load_config(config)
    big = {f"b{i}.bin": site.add(f"b{i}.bin", 12 * MIB) for i in range(3)}
    small = {f"s{i}.bin": site.add(f"s{i}.bin", 20_000) for i in range(10)}
    site.rate_bps = MIB // 2  # per connection: the big files need several seconds
    async with SqliteStore.open(cfg.db_path) as store:
        await store.add_items("files", [file_item(base, n, f"lib/{n}") for n in [*big, *small]])

    daemon = await DaemonProcess.start(config, tmp_path)
    try:
        await daemon.wait_for(lambda e: e["event"] == "aria2_ready")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while min(site.bytes_sent[n] for n in big) < 2 * MIB:
            assert loop.time() < deadline, "downloads did not start"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # progress rows and .aria2 control files are saved every ~1 s
        status = await _cli("status", "--config", str(config), cwd=tmp_path)
        assert "downloading now:" in status and "b0.bin" in status and "/12.0 MiB" in status, status
        aria2_pid = int((cfg.data_dir / "aria2-daemon.pid").read_text())
        sent_at_kill = {n: site.bytes_sent[n] for n in big}
        requests_at_kill = {n: len(site.ranges[n]) for n in big}
        daemon.proc.kill()  # SIGKILL: no clean-up at all
        await daemon.proc.wait()
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()
    assert _statuses(cfg.db_path)["b0.bin"] == "downloading"  # the lease of a dead process
    # restart at once: an aria2c still running from the dead daemon is stopped first
    daemon = await DaemonProcess.start(config, tmp_path)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while set(_statuses(cfg.db_path).values()) != {"processed"}:
            assert asyncio.get_running_loop().time() < deadline, _statuses(cfg.db_path)
            await asyncio.sleep(0.2)
        assert not _alive(aria2_pid)
        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()
    root = cfg.library.root
    for name, data in {**big, **small}.items():
        assert (root / "lib" / name).read_bytes() == data
    # no duplicates, no .part / .aria2 leftovers, an empty staging folder
    assert library_files(root) == sorted(f"lib/{n}" for n in [*big, *small])
    for name in big:  # resumed: ranges after the restart start mid-file, far less served again
        later = [h for h in site.ranges[name][requests_at_kill[name]:] if h]
        assert all(int(h.split("=")[1].split("-")[0]) > 0 for h in later), (name, later)
        assert site.bytes_sent[name] - sent_at_kill[name] < len(big[name]) - 2 * MIB, name
