"""The aria2c backend against the imitation file host: real aria2c, real SQLite, real files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from pathlib import Path

import pytest
import structlog

from daemon import notify
from daemon.downloads.aria2.controller import gid_for, item_id_of
from daemon.downloads.aria2.errors import classify
from daemon.downloads.aria2.process import Aria2Missing
from daemon.downloads.builtin import BuiltinDownloader
from daemon.resources import open_resources
from daemon.store import SqliteStore
from tests.integration.downloads.aria2_harness import (
    aria2_config,
    file_item,
    library_files,
    require_aria2c,
    running,
)

MIB = 1 << 20


def _proc_bytes(name: str) -> bytes:
    return (Path("/proc") / name).read_bytes()




def test_gid_is_the_item_id_in_16_hex_digits():
    assert gid_for(1) == "0000000000000001"
    assert gid_for(0xABCDEF) == "0000000000abcdef"
    assert item_id_of(gid_for(123456)) == 123456
    assert item_id_of("not-a-gid") is None and item_id_of("0" * 16) is None and item_id_of("1") is None


def test_error_codes_in_words_and_policy():
    assert (classify("3").policy, classify("3").error_code) == ("final", "not_found")
    assert classify("29", "status=503").policy == "retry"
    assert "503" in classify("29", "The response status is not successful. status=503").words
    assert classify(2).policy == "retry" and classify(6).policy == "retry"
    assert classify("32").policy == "checksum"
    assert classify("16").policy == "final" and classify("16").error_code == "storage"
    assert classify("garbage").code == 1


async def test_many_downloads_land_complete_and_a_large_file_is_split(filesite, tmp_path):
    site, base = filesite
    cfg = aria2_config(tmp_path)
    small = {f"s{i:02d}.bin": site.add(f"s{i:02d}.bin", 40_000 + i) for i in range(30)}
    big = site.add("big.bin", 24 * MIB)
    async with running(cfg) as run:
        items = [file_item(base, n, f"small/{n[:3]}/{n}") for n in small]
        items.append(file_item(base, "big.bin", "big/big.bin",
                               checksum="sha-256=" + hashlib.sha256(big).hexdigest()))
        await run.res.store.add_items("files", items)
        run.downloader.wake.set()
        rows = await run.settle()
        assert await run.res.store.transfers() == []  # progress rows go with the download
    assert {r["status"] for r in rows.values()} == {"processed"}
    root = cfg.library.root
    for name, data in small.items():
        assert (root / "small" / name[:3] / name).read_bytes() == data
        assert rows[name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert (root / "big/big.bin").read_bytes() == big
    starts = {int(h.split("=")[1].split("-")[0]) for h in site.ranges["big.bin"] if h}
    assert len(starts) >= 2, site.ranges["big.bin"]  # several segments, fetched with Range
    assert site.bytes_sent["big.bin"] < 2 * len(big)  # no segment fetched twice
    # nothing but the published files: no .aria2 control files, the staging folder empty
    assert library_files(root) == sorted([f"small/{n[:3]}/{n}" for n in small] + ["big/big.bin"])


async def test_404_is_final_503_is_retried_and_a_checksum_mismatch_is_caught(filesite, tmp_path):
    site, base = filesite
    cfg = aria2_config(tmp_path)
    flaky = site.add("flaky.bin", 100_000)
    site.unavailable["flaky.bin"] = 1  # 503 once, then 200
    good = site.add("good.bin", 50_000)
    site.add("tampered.bin", 50_000)
    async with running(cfg) as run:
        await run.res.store.add_items("files", [
            file_item(base, "missing.bin"),
            file_item(base, "flaky.bin"),
            file_item(base, "good.bin", checksum="md5=" + hashlib.md5(good).hexdigest()),
            file_item(base, "tampered.bin", checksum="sha-256=" + "0" * 64),
        ])
        run.downloader.wake.set()
        rows = await run.settle()
    assert (rows["missing.bin"]["status"], rows["missing.bin"]["error_code"]) == ("failed", "not_found")
    assert "not found" in rows["missing.bin"]["last_error"]
    assert site.requests["missing.bin"] == 1  # a 404 is never retried
    assert rows["flaky.bin"]["status"] == "processed" and rows["flaky.bin"]["attempts"] == 2
    assert (cfg.library.root / "files/flaky.bin").read_bytes() == flaky
    assert rows["good.bin"]["status"] == "processed"
    bad = rows["tampered.bin"]
    assert (bad["status"], bad["error_code"]) == ("failed", "checksum")
    assert "checksum" in bad["last_error"]
    assert site.requests["tampered.bin"] == 2  # fetched again once, then final
    assert library_files(cfg.library.root) == ["files/flaky.bin", "files/good.bin"]


async def test_aria2c_killed_mid_download_is_restarted_and_resumes(filesite, tmp_path):
    site, base = filesite
    cfg = aria2_config(tmp_path)
    big = site.add("big.bin", 16 * MIB)
    small = site.add("after.bin", 10_000)
    site.rate_bps = MIB  # per connection: the big file takes ~4 s on 4 connections
    async with running(cfg) as run:
        await run.res.store.add_items("files", [file_item(base, "big.bin")])
        run.downloader.wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while site.bytes_sent["big.bin"] < 4 * MIB:
            assert loop.time() < deadline, "download did not start"
            await asyncio.sleep(0.05)
        progress = await run.res.store.transfers()
        await asyncio.sleep(1.2)  # one .aria2 control-file save (auto_save_interval_s = 1)
        assert progress and progress[0]["key"] == "big.bin" and progress[0]["total_bytes"] == len(big)
        process = run.downloader.supervisor.process
        assert process.proc is not None
        first_pid = process.proc.pid
        os.kill(first_pid, signal.SIGKILL)
        requests_before_kill = len(site.ranges["big.bin"])
        sent_before_kill = site.bytes_sent["big.bin"]
        await run.res.store.add_items("files", [file_item(base, "after.bin")])
        run.downloader.wake.set()
        rows = await run.settle()
        assert run.downloader.supervisor.restarts == 1
        assert process.proc.pid != first_pid
    assert {r["status"] for r in rows.values()} == {"processed"}
    assert (cfg.library.root / "files/big.bin").read_bytes() == big
    assert (cfg.library.root / "files/after.bin").read_bytes() == small
    # resumed from the .aria2 control file, not restarted: after the kill, ranged requests
    # start mid-file (aria2c's first GET only probes the size) and far less than the whole
    # file was served again (≥ 4 MiB were on disk and recorded before the kill)
    after = [h for h in site.ranges["big.bin"][requests_before_kill:] if h]
    assert after and all(int(h.split("=")[1].split("-")[0]) > 0 for h in after), after
    sent_after_kill = site.bytes_sent["big.bin"] - sent_before_kill
    assert sent_after_kill < len(big) - 4 * MIB, (sent_after_kill, site.ranges["big.bin"])
    assert library_files(cfg.library.root) == ["files/after.bin", "files/big.bin"]


@pytest.mark.parametrize("policy", ["skip", "overwrite", "rename"])
async def test_existing_file_policies(filesite, tmp_path, policy):
    site, base = filesite
    cfg = aria2_config(tmp_path, policy=policy)
    fresh = site.add("a.bin", 30_000)
    (cfg.library.root / "files").mkdir(parents=True)
    (cfg.library.root / "files/a.bin").write_bytes(b"already here")
    async with running(cfg) as run:
        await run.res.store.add_items("files", [file_item(base, "a.bin")])
        run.downloader.wake.set()
        rows = await run.settle()
    root = cfg.library.root
    if policy == "skip":
        assert site.requests["a.bin"] == 0 and rows["a.bin"]["path"] == "files/a.bin"
        assert (root / "files/a.bin").read_bytes() == b"already here"
    elif policy == "overwrite":
        assert rows["a.bin"]["path"] == "files/a.bin" and (root / "files/a.bin").read_bytes() == fresh
    else:
        assert rows["a.bin"]["path"] == "files/a-1.bin" and (root / "files/a-1.bin").read_bytes() == fresh
        assert (root / "files/a.bin").read_bytes() == b"already here"


async def test_child_is_private_loopback_only_and_outside_the_notify_protocol(filesite, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    cfg = aria2_config(tmp_path)
    async with running(cfg) as run:
        supervisor = run.downloader.supervisor
        await asyncio.wait_for(supervisor.ready.wait(), 15)
        process = supervisor.process
        assert process.proc is not None
        pid = process.proc.pid
        cmdline = _proc_bytes(f"{pid}/cmdline").split(b"\0")
        environ = _proc_bytes(f"{pid}/environ").split(b"\0")
        assert not any(process.secret.encode() in arg for arg in cmdline)  # the secret is not in argv
        assert process.conf.stat().st_mode & 0o777 == 0o600
        assert f"rpc-secret={process.secret}" in process.conf.read_text()
        assert not any(e.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_")) for e in environ)
        listening = _proc_bytes("net/tcp").decode().splitlines()[1:]
        port_hex = f"{process.port:04X}"
        mine = [ln.split()[1] for ln in listening if ln.split()[1].endswith(":" + port_hex)
                and ln.split()[3] == "0A"]
        assert mine == ["0100007F:" + port_hex]  # 127.0.0.1 only
    assert notify.child_environment().get("NOTIFY_SOCKET") is None
    assert not process.conf.exists()  # the secret is gone with the process
    assert process.proc.returncode is not None


async def test_backend_choice(tmp_path, caplog):
    require_aria2c()
    cfg = aria2_config(tmp_path, extra='binary = "/nonexistent/aria2c"\n')
    with pytest.raises(Aria2Missing, match="aria2"):
        async with open_resources(cfg, "test"):
            pass
    auto = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(update={"backend": "auto"})})
    async with open_resources(auto, "test") as res:
        assert isinstance(res.downloader, BuiltinDownloader)
    (tmp_path / "found").mkdir()
    found = aria2_config(tmp_path / "found")
    found = found.model_copy(update={"downloads": found.downloads.model_copy(update={"backend": "auto"})})
    async with open_resources(found, "test") as res:
        assert res.downloader.backend == "aria2"


async def test_a_saved_session_is_continued_and_foreign_downloads_are_removed(filesite, tmp_path):
    site, base = filesite
    cfg = aria2_config(tmp_path)
    data = {f"b{i}.bin": site.add(f"b{i}.bin", 6 * MIB) for i in range(3)}
    site.rate_bps = MIB // 4
    async with running(cfg) as run:  # three downloads under way, then a graceful stop
        await run.res.store.add_items("files", [file_item(base, n) for n in data])
        run.downloader.wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while min(site.bytes_sent[n] for n in data) < MIB:
            assert loop.time() < deadline, "downloads did not start"
            await asyncio.sleep(0.05)
    ids = {r[0]: r[1] for r in await _read_items(cfg.db_path)}
    session = (cfg.data_dir / "aria2-test.session").read_text()
    assert all(gid_for(ids[n]) in session for n in data)  # aria2c saved all three
    # meanwhile b2 was settled elsewhere; and this run hands aria2c one item at a time
    await _exec(cfg.db_path, "UPDATE items SET status = 'failed', error_code = 'storage' WHERE key = 'b2.bin'")
    site.rate_bps = MIB // 2
    one = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(
        update={"aria2": cfg.downloads.aria2.model_copy(update={"queue_depth": 1})})})
    with structlog.testing.capture_logs() as logs:
        async with running(one) as run:
            rows = await run.settle()
    events = {e["event"] for e in logs}
    assert "aria2_download_adopted" in events and "aria2_foreign_downloads_removed" in events
    assert rows["b0.bin"]["status"] == rows["b1.bin"]["status"] == "processed"
    assert rows["b2.bin"]["status"] == "failed"
    for name in ("b0.bin", "b1.bin"):
        assert (cfg.library.root / "files" / name).read_bytes() == data[name]
    # the foreign download's staged data is gone too: nothing but the two files
    assert library_files(cfg.library.root) == ["files/b0.bin", "files/b1.bin"]


async def _read_items(db: Path) -> list[tuple[str, int]]:
    async with SqliteStore.open(db) as store:
        return [(r["key"], r["id"]) for r in await store._read("SELECT key, id FROM items")]


async def _exec(db: Path, sql: str) -> None:
    async with SqliteStore.open(db) as store, store._tx() as tx:
        await tx.execute(sql)


async def test_a_hung_aria2c_is_killed_and_replaced(filesite, tmp_path):
    site, base = filesite
    cfg = aria2_config(tmp_path, extra="rpc_timeout_s = 1\n")
    data = site.add("x.bin", 3 * MIB)
    site.rate_bps = MIB
    async with running(cfg) as run:
        supervisor = run.downloader.supervisor
        await asyncio.wait_for(supervisor.ready.wait(), 15)
        assert supervisor.process.proc is not None
        hung = supervisor.process.proc.pid
        os.kill(hung, signal.SIGSTOP)  # alive but silent: only an RPC timeout can tell
        await run.res.store.add_items("files", [file_item(base, "x.bin")])
        run.downloader.wake.set()
        rows = await run.settle()
        assert supervisor.restarts >= 1 and supervisor.process.proc.pid != hung
    assert rows["x.bin"]["status"] == "processed"
    assert (cfg.library.root / "files/x.bin").read_bytes() == data
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)


async def test_a_reload_changes_the_running_aria2c_limits(filesite, tmp_path):
    cfg = aria2_config(tmp_path)
    async with running(cfg) as run:
        supervisor = run.downloader.supervisor
        await asyncio.wait_for(supervisor.ready.wait(), 15)
        assert supervisor.rpc is not None
        before = await supervisor.rpc.call("aria2.getGlobalOption")
        assert before["max-concurrent-downloads"] == "5"
        aria2 = cfg.downloads.aria2.model_copy(update={"max_concurrent_downloads": 2,
                                                       "max_overall_download_bytes_per_s": 2_000_000})
        run.downloader.settings = cfg.downloads.model_copy(update={"aria2": aria2})  # as SIGHUP does
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            now = await supervisor.rpc.call("aria2.getGlobalOption")
            if now["max-concurrent-downloads"] == "2":
                break
            assert loop.time() < deadline, now
            await asyncio.sleep(0.1)
        assert now["max-overall-download-limit"] == "2000000"
        assert supervisor.process.proc is not None and supervisor.restarts == 0  # no restart needed
