"""Issue 11 item 19: when nothing is harvested, every operator surface says so and why."""

from __future__ import annotations

import asyncio
import os

import structlog

from daemon.api.health import collect_health
from daemon.resources import open_resources
from daemon.source_health import SourceWatch
from tests.integration.downloads.aria2_harness import file_item
from tests.integration.test_api import health_of
from tests.integration.test_uploads import JPEG
from tests.procs import cli_runner


async def downloads_until(res, predicate, timeout_s: float = 30.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(res.downloader.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while not await predicate():
            assert loop.time() < deadline, await res.store.status_counts()
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task


async def test_an_unreachable_host_is_failing_everywhere(write_config, tmp_path):
    _, cfg = write_config("http://127.0.0.1:9/")  # nothing listens on the discard port
    async with open_resources(cfg, "test") as res:
        await res.store.add_items("sky", [file_item("http://127.0.0.1:9/", f"img{i}.jpg") for i in range(6)])

        async def all_tried() -> bool:
            rows = await res.store._read("SELECT COUNT(*) AS n FROM items WHERE error_code IS NOT NULL")
            return rows[0]["n"] == 6

        await downloads_until(res, all_tried)
        healthy, checks = await collect_health(health_of(res))
        assert healthy  # the process is fine…
        sky = checks["sources"]["sources"]["sky"]
        assert checks["sources"]["failing"] == ["sky"] and sky["state"] == "failing"  # … the source is not
        assert sky["last_success_at"] is None and sky["retrying"] + sky["failed_since_success"] == 6
        assert sky["last_error_code"] == "network" and "reason" in sky
        with structlog.testing.capture_logs() as logs:
            watch = SourceWatch()
            await watch.check(res.store)
            await watch.check(res.store)  # once per transition, not per check
        failing = [e for e in logs if e["event"] == "source_failing"]
        assert len(failing) == 1 and failing[0]["log_level"] == "warning" and failing[0]["source"] == "sky"

    env = {**os.environ}
    cli = cli_runner(tmp_path / "config.toml", env)
    code, out, err = await cli("status")
    assert code == 0, err
    assert "sky: FAILING since" in out and "[network]" in out and "waiting to retry" in out, out
    assert "will retry" in out  # the last-errors list shows items waiting, with their error
    code, out, err = await cli("stats", "sky")
    assert code == 0, err
    assert "health: FAILING since" in out, out


async def test_404_for_everything_is_a_warning_and_recovery_is_info(filesite, write_config):
    site, base = filesite
    _, cfg = write_config(base)
    async with open_resources(cfg, "test") as res:
        await res.store.add_items("sky", [file_item(base, f"gone{i}.jpg") for i in range(4)])

        async def all_failed() -> bool:
            rows = await res.store._read("SELECT COUNT(*) AS n FROM items WHERE status = 'failed'")
            return rows[0]["n"] == 4

        await downloads_until(res, all_failed)
        watch = SourceWatch()
        with structlog.testing.capture_logs() as logs:
            states = await watch.check(res.store)
        assert states["sky"]["state"] == "failing" and states["sky"]["last_error_code"] == "not_found"
        assert [(e["event"], e["log_level"]) for e in logs] == [("source_failing", "warning")]

        # the host comes back: one image lands (a second later), the source has recovered
        await asyncio.sleep(1.1)  # times are stored to the second
        site.files["back.jpg"] = JPEG
        await res.store.add_items("sky", [file_item(base, "back.jpg")])

        async def landed() -> bool:
            rows = await res.store._read("SELECT status FROM items WHERE key = 'back.jpg'")
            return rows[0]["status"] not in ("discovered", "downloading")

        await downloads_until(res, landed)
        with structlog.testing.capture_logs() as logs:
            states = await watch.check(res.store)
        assert states["sky"]["state"] == "ok"
        assert [(e["event"], e["log_level"]) for e in logs] == [("source_recovered", "info")]


async def test_a_run_says_what_became_of_its_items(write_config, tmp_path):
    """Before: the runs table said ``ok … failed=0`` while every item of the run failed."""
    from datetime import UTC, datetime

    from daemon.pipeline import run_window
    from daemon.sources.registry import build_source

    _, cfg = write_config("http://127.0.0.1:9/", lookback_s=3600)
    async with open_resources(cfg, "test") as res:
        source = build_source("sky", cfg.sources["sky"])
        counts = await run_window(res.store, source, datetime.now(UTC), "schedule", res.http)
        assert counts.new >= 5

        async def all_tried() -> bool:
            rows = await res.store._read("SELECT COUNT(*) AS n FROM items WHERE error_code IS NULL")
            return rows[0]["n"] == 0

        await downloads_until(res, all_tried)
        (run,) = await res.store.last_runs(1)
    assert run["status"] == "ok" and run["items_done"] == 0
    assert run["items_failed"] + run["items_waiting"] == counts.new
    code, out, err = await cli_runner(tmp_path / "config.toml", {**os.environ})("status")
    assert code == 0, err
    assert "its items: 0 downloaded" in out, out


async def test_a_source_that_stops_finding_anything_is_stale(filesite, write_config, tmp_path):
    """No failures and no new items (a page layout that changed): with stale_after_s set, the
    source is reported once nothing was downloaded for longer than that."""
    site, base = filesite
    site.files["old.jpg"] = JPEG
    _, cfg = write_config(base, stale_after_s=3600)
    async with open_resources(cfg, "test") as res:
        await res.store.add_items("sky", [file_item(base, "old.jpg")])

        async def landed() -> bool:
            rows = await res.store._read("SELECT status FROM items")
            return rows[0]["status"] not in ("discovered", "downloading")

        await downloads_until(res, landed)
        watch = SourceWatch()
        assert (await watch.check(res.store, {"sky": 3600}))["sky"]["state"] == "ok"
        await res.store._read("SELECT 1")
        async with res.store._tx() as tx:  # the last success was two hours ago
            await tx.execute("UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours')")
        with structlog.testing.capture_logs() as logs:
            states = await watch.check(res.store, {"sky": 3600})
        assert states["sky"]["state"] == "stale" and "nothing downloaded for 2.0 h" in states["sky"]["reason"]
        assert [(e["event"], e["state"]) for e in logs] == [("source_failing", "stale")]
        health = health_of(res)
        health.stale_after_s = lambda: {"sky": 3600}
        _healthy, checks = await collect_health(health)
        assert checks["sources"]["failing"] == ["sky"]
    code, out, err = await cli_runner(tmp_path / "config.toml", {**os.environ})("status")
    assert code == 0 and "sky: STALE: nothing downloaded for 2.0 h" in out, (out, err)
