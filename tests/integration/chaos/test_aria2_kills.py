"""Chaos: aria2c SIGKILLed 5 times mid-run (issue 11): the supervisor restarts it each time,
every file lands complete and byte-identical, nothing is left in staging."""

from __future__ import annotations

import asyncio
import os
import random
import signal

import pytest

from tests.integration.downloads.aria2_harness import aria2_config, file_item, library_files, running

pytestmark = pytest.mark.chaos
KILLS = 5


async def test_aria2c_killed_five_times_mid_run(filesite, tmp_path):
    site, base = filesite
    files = {f"k{i:02d}.bin": site.add(f"k{i:02d}.bin", 300_000 + i) for i in range(30)}
    site.rate_bps = 400_000  # per connection: each file takes most of a second
    # restarts 1 s apart (not 1, 2, 4, 8, 16 s): the kills, not the backoff, are under test here
    cfg = aria2_config(tmp_path, extra="restart_backoff_max_s = 1\n")
    rng = random.Random(21)
    async with running(cfg) as run:
        await run.res.store.add_items("files", [file_item(base, n) for n in files])
        run.downloader.wake.set()
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.8, 2.0))
            for _ in range(200):  # the previous restart is up
                if run.downloader.supervisor.ready.is_set():
                    break
                await asyncio.sleep(0.05)
            process = run.downloader.supervisor.process
            assert process.proc is not None
            os.kill(process.proc.pid, signal.SIGKILL)
        rows = await run.settle(timeout_s=120)
        restarts = run.downloader.supervisor.restarts
        await run.downloader.housekeeping()
    assert restarts == KILLS
    assert {r["status"] for r in rows.values()} == {"processed"}, rows
    for name, data in files.items():
        assert (cfg.library.root / "files" / name).read_bytes() == data
    assert [f for f in library_files(cfg.library.root) if f.startswith(".partial/")] == []
    served = sum(site.bytes_sent.values())
    total = sum(len(d) for d in files.values())
    print(f"aria2c killed {KILLS} times: {served / total:.2f} bytes served per byte stored")
