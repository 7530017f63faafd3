"""The library root of a NAS: not mounted → fallback root or paused, then resumed."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import structlog

from daemon.config.load import load_config
from daemon.config.settings import LibrarySettings
from daemon.library.root import LibraryGuard, root_problem
from daemon.resources import open_resources
from tests.integration.downloads.aria2_harness import file_item


def test_root_problems(tmp_path):
    assert root_problem(tmp_path / "nope", False) == "missing"
    (tmp_path / "file").write_text("x")
    assert root_problem(tmp_path / "file", False) == "not a folder"
    assert root_problem(tmp_path, True) == "not mounted"  # a plain folder, not a mount point
    assert root_problem(tmp_path, False) is None
    assert root_problem(Path("/"), True) is None  # / is always a mount point


async def test_guard_prefers_root_then_fallback_then_pauses(tmp_path):
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    guard = LibraryGuard(LibrarySettings(root=tmp_path / "nas", require_mount=True, fallback_root=fallback))
    with structlog.testing.capture_logs() as logs:
        assert (await guard.check()).root == fallback
        assert (await guard.check()).root == fallback  # said once
        guard.settings = LibrarySettings(root=tmp_path / "nas", require_mount=True)
        state = await guard.check()
        assert state.paused and "missing" in (state.reason or "")
        guard.settings = LibrarySettings(root=Path("/"), require_mount=True)
        assert (await guard.check()).root == Path("/")
    assert [e["event"] for e in logs] == ["library_fallback_in_use", "library_unavailable_downloads_paused",
                                          "library_available_downloads_resumed"]


def config(tmp_path: Path, library: str):
    path = tmp_path / "config.toml"
    path.write_text(f"""
data_dir = "data"
[library]
{library}
[downloads]
backend = "builtin"
poll_interval_s = 0.05
""", encoding="utf-8")
    return load_config(path)


async def wait_status(store, key: str, want: str, timeout_s: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        states = await store.item_states("files", [key])
        if states.get(key, ("",))[0] == want:
            return
        assert loop.time() < deadline, states
        await asyncio.sleep(0.05)


async def test_downloads_pause_while_the_nas_is_not_mounted_and_resume(filesite, tmp_path):
    site, base = filesite
    data = site.add("a.jpg.bin", 20_000)
    nas = tmp_path / "nas"
    cfg = config(tmp_path, f'root = "{nas}"\nrequire_mount = true')
    async with open_resources(cfg, "test") as res:
        assert not nas.exists()  # a mount point is never created on the local disk
        stop = asyncio.Event()
        task = asyncio.create_task(res.downloader.run(stop))
        await res.store.add_items("files", [file_item(base, "a.jpg.bin", "x/a.bin")])
        res.downloader.wake.set()
        await asyncio.sleep(0.5)
        assert (await res.store.item_states("files", ["a.jpg.bin"]))["a.jpg.bin"][0] == "discovered"
        assert site.requests["a.jpg.bin"] == 0 and not nas.exists()
        nas.mkdir()  # "mounted" (the check is swapped: a tmp folder is never a mount point)
        res.downloader.guard.settings = LibrarySettings(root=nas)
        await wait_status(res.store, "a.jpg.bin", "processed")
        stop.set()
        await task
    assert (nas / "x/a.bin").read_bytes() == data


async def test_fallback_root_takes_files_with_their_full_path(filesite, tmp_path):
    site, base = filesite
    data = site.add("b.bin", 10_000)
    fallback = tmp_path / "local"
    fallback.mkdir()
    cfg = config(tmp_path, f'root = "{tmp_path / "nas"}"\nrequire_mount = true\nfallback_root = "{fallback}"')
    async with open_resources(cfg, "test") as res:
        stop = asyncio.Event()
        task = asyncio.create_task(res.downloader.run(stop))
        await res.store.add_items("files", [file_item(base, "b.bin", "x/b.bin")])
        res.downloader.wake.set()
        await wait_status(res.store, "b.bin", "processed")
        [row] = await res.store._read("SELECT path FROM items")
        stop.set()
        await task
    assert row["path"] == str((fallback / "x/b.bin").resolve())
    assert (fallback / "x/b.bin").read_bytes() == data
    assert not (tmp_path / "nas").exists()


def test_status_says_when_downloads_are_paused(tmp_path):
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(f'data_dir = "data"\n[library]\nroot = "{tmp_path / "nas"}"\nrequire_mount = true\n')
    (tmp_path / "data").mkdir()
    sqlite3.connect(tmp_path / "data" / "harvest.db").close()
    res = subprocess.run([sys.executable, "-m", "daemon", "status", "--config", str(cfg_path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert f"library {tmp_path / 'nas'}: missing; downloads paused until it is back" in res.stdout
