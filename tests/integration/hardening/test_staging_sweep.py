"""Issue 11 item 5: staged files nobody will finish do not stay in the staging folder forever."""

from __future__ import annotations

import asyncio
import os
import time

from daemon.resources import open_resources
from tests.integration.downloads.aria2_harness import aria2_config, file_item, running


def stage(folder, name: str, data: bytes = b"x" * 100, age_s: float = 3600) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    past = time.time() - age_s
    os.utime(path, (past, past))


async def leftovers(res, base: str) -> dict[str, str]:
    """Items in every state, each with a staged file (and aria2 control files) left behind."""
    store = res.store
    await store.add_items("files", [file_item(base, n) for n in ("done.bin", "failed.bin", "waiting.bin")])
    ids = {r["key"]: r["id"] for r in await store._read("SELECT id, key FROM items")}
    await store._read("SELECT 1")
    async with store._tx() as tx:
        await tx.execute("UPDATE items SET status = 'processed' WHERE key = 'done.bin'")
        await tx.execute("UPDATE items SET status = 'failed', error_code = 'storage'"
                         " WHERE key = 'failed.bin'")
        await tx.execute("UPDATE items SET next_attempt_at = ? WHERE key = 'waiting.bin'",
                         (time.time() + 3600,))
    staging = res.downloader.staging
    names = {
        "done": f"{ids['done.bin']:016x}-done.bin",
        "done_ctl": f"{ids['done.bin']:016x}-done.bin.aria2",
        "failed": f"{ids['failed.bin']:016x}-failed.bin",
        "failed_ctl": f"{ids['failed.bin']:016x}-failed.bin.aria2",
        "unknown": f"{999_999:016x}-gone.bin",
        "waiting": f"{ids['waiting.bin']:016x}-waiting.bin",
        "waiting_ctl": f"{ids['waiting.bin']:016x}-waiting.bin.aria2",
        "old_upload": "upload-0123456789ab.part",
    }
    for key, name in names.items():
        stage(staging, name, age_s=2 * 86_400 if key == "old_upload" else 3600)
    stage(staging, f"{999_998:016x}-fresh.bin", age_s=1)  # written a moment ago: left alone
    return names


def left(staging) -> set[str]:
    return {p.name for p in staging.iterdir()} if staging.exists() else set()


async def test_the_sweep_keeps_only_what_can_still_be_resumed(filesite, write_config):
    _site, base = filesite
    _, cfg = write_config(base)
    async with open_resources(cfg, "test") as res:
        names = await leftovers(res, base)
        await res.downloader.housekeeping()
        fresh = f"{999_998:016x}-fresh.bin"
        assert left(res.downloader.staging) == {names["waiting"], names["waiting_ctl"], fresh}


async def test_aria2_sweeps_at_start(filesite, tmp_path):
    _site, base = filesite
    cfg = aria2_config(tmp_path)
    async with open_resources(cfg, "test") as res:
        names = await leftovers(res, base)
    async with running(cfg) as run:
        for _ in range(100):
            if names["done"] not in left(run.downloader.staging):
                break
            await asyncio.sleep(0.1)
        assert names["done"] not in left(run.downloader.staging)
        assert not {names[k] for k in ("done_ctl", "failed", "failed_ctl", "unknown", "old_upload")} & left(
            run.downloader.staging)


async def test_aria2_publishes_a_finished_leftover_instead_of_fetching_it_again(filesite, tmp_path):
    """Issue 11 item 5: a killed run's aria2c finished an image nobody published; the next
    run decodes and publishes it; a cut-short leftover is deleted and fetched."""
    from tests.integration.test_uploads import JPEG

    site, base = filesite
    site.files["whole.jpg"] = JPEG
    site.files["short.jpg"] = JPEG
    cfg = aria2_config(tmp_path)
    async with open_resources(cfg, "test") as res:
        await res.store.add_items("files", [file_item(base, "whole.jpg"), file_item(base, "short.jpg")])
        ids = {r["key"]: r["id"] for r in await res.store._read("SELECT id, key FROM items")}
        staging = res.downloader.staging
    stage(staging, f"{ids['whole.jpg']:016x}-whole.jpg", JPEG, age_s=5)
    stage(staging, f"{ids['short.jpg']:016x}-short.jpg", JPEG[: len(JPEG) // 2], age_s=5)
    async with running(cfg) as run:
        run.downloader.wake.set()
        rows = await run.settle()
    assert {r["status"] for r in rows.values()} == {"processed"}
    assert site.requests["whole.jpg"] == 0 and site.requests["short.jpg"] == 1
    for name in ("whole.jpg", "short.jpg"):
        assert (cfg.library.root / "files" / name).read_bytes() == JPEG
    assert left(staging) == set()
