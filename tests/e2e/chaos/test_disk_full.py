"""Chaos: the library's disk fills up, then space comes back (issue 11 items 6 and 7).

With a real small tmpfs as the library when this process may mount one (root), else a
fault injected at write: downloads pause with a clear reason instead of failing item after
item, nothing partial is left at a final path or in staging, and every item completes once
space returns, without a manual step.
"""

from __future__ import annotations

import asyncio
import errno
import subprocess
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from daemon.backfill import collect_specs
from daemon.resources import open_resources
from daemon.store import NewItem

pytestmark = pytest.mark.chaos


@contextmanager
def tmpfs(folder: Path, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the injected-fault test covers ENOSPC")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True, timeout=30)


async def settle(res, predicate, timeout_s: float = 60.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        rows = {r["key"]: dict(r) for r in await res.store._read("SELECT * FROM items")}
        if predicate(rows):
            return rows
        assert loop.time() < deadline, {k: (r["status"], r["error_code"]) for k, r in rows.items()}
        await asyncio.sleep(0.1)


def final_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts]


@pytest.mark.parametrize("backend", ["builtin", "aria2"])
async def test_a_full_disk_pauses_then_everything_completes(skycam, write_config, tmp_path, backend):
    if backend == "aria2":
        from tests.integration.downloads.aria2_harness import require_aria2c
        require_aria2c()
    site, base = skycam
    site.frame_size = (1280, 960)
    with tmpfs(tmp_path / "library", "3m") as root:
        _, cfg = write_config(base, backend)
        cfg = cfg.model_copy(update={"library": cfg.library.model_copy(update={"min_free_bytes": 512 << 10})})
        specs = await collect_specs(cfg, "sky", "2024-06-15T10:00", "2024-06-15T13:59")  # 24 slots
        async with open_resources(cfg, "test") as res:
            stop = asyncio.Event()
            loops = [asyncio.create_task(res.downloader.run(stop)), asyncio.create_task(res.worker.run(stop))]
            await res.store.add_items("sky", specs)
            res.downloader.wake.set()
            # the disk fills: downloads pause with the reason, nothing fails for good
            for _ in range(600):
                if res.downloader.guard.state.paused:
                    break
                await asyncio.sleep(0.1)
            state = res.downloader.guard.state
            assert state.paused and "full" in (state.reason or ""), state
            rows = await res.store._read("SELECT status, error_code FROM items")
            assert not [r for r in rows if r["status"] == "failed"], [dict(r) for r in rows]
            assert sum(1 for r in rows if r["status"] in ("discovered", "downloading")) > 0
            for path in final_files(root):  # whatever landed is complete and recorded
                assert not path.name.endswith((".part", ".aria2"))
            # space comes back: no manual step
            await asyncio.to_thread(subprocess.run, ["mount", "-o", "remount,size=64m", str(root)],
                                    check=True, timeout=30)
            rows = await settle(res, lambda rs: len(rs) == 24 and all(r["status"] == "processed"
                                                                      for r in rs.values()))
            stop.set()
            await asyncio.gather(*loops)
            await res.downloader.housekeeping()
        assert len(final_files(root)) == 24
        staging = root / ".partial"
        assert not list(staging.glob("*")) if staging.exists() else True
        assert sum(site.requests.values()) <= 24 * 2  # paused, not hammering the camera


async def test_enospc_at_write_is_retried_not_final(skycam, write_config, monkeypatch):
    _site, base = skycam
    _, cfg = write_config(base)
    async with open_resources(cfg, "test") as res:
        real = res.downloader.http.download
        calls = {"n": 0}

        async def full_once(url, dest, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError(errno.ENOSPC, "No space left on device", str(dest))
            return await real(url, dest, *args, **kwargs)

        monkeypatch.setattr(res.downloader.http, "download", full_once)
        slot = datetime(2024, 6, 15, 10, 2)
        (spec,) = await collect_specs(cfg, "sky", slot.isoformat(), (slot + timedelta(minutes=5)).isoformat())
        assert isinstance(spec, NewItem)
        await res.store.add_items("sky", [spec])
        stop = asyncio.Event()
        task = asyncio.create_task(res.downloader.run(stop))
        rows = await settle(res, lambda rs: all(r["status"] == "downloaded" for r in rs.values()))
        stop.set()
        await task
    (row,) = rows.values()
    assert row["attempts"] == 2 and calls["n"] == 2  # the disk-full attempt was retried, not final
