"""Geo model tasks through the real processes: ``harvestd geo-task FILE.json`` and a daemon
SIGKILLed in the middle of ``data_processing`` then restarted (the task carries on, the
chips recorded before the kill are not fetched again, the search is not repeated)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import rasterio

from daemon.store import SqliteStore
from tests.conftest import serve_app
from tests.fakes.s2_scenes import SceneSpec, item_dict, make_scene
from tests.fakes.stac_server import StacSite
from tests.integration.geo.conftest import JUNE, bbox_inside
from tests.procs import DaemonProcess, cli_runner

pytestmark = pytest.mark.e2e


@pytest.fixture
async def stac(tmp_path: Path) -> AsyncIterator[tuple[StacSite, str, dict[str, SceneSpec]]]:
    site = StacSite(tmp_path / "cogs")
    async with serve_app(site.app()) as url:
        scenes: dict[str, SceneSpec] = {}
        east = [replace(s, id=s.id.replace("T50SLK", "T50SMK"), left=s.left + 20000, files={}) for s in JUNE]
        for spec in [*JUNE, *east]:
            made = make_scene(site.cog_dir, replace(spec, files={}))
            site.items.append(item_dict(made, url + "cogs"))
            scenes[spec.id] = made
        yield site, url, scenes


def _config(tmp_path: Path, stac_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
data_dir = "data"
[api]
listen = "127.0.0.1:0"
[library]
root = "library"
[http]
backoff_initial_s = 0.01
backoff_max_s = 0.05
[geo]
stac_url = "{stac_url}"
chip_reads = 1
""", encoding="utf-8")
    return path


def _request(scenes: dict[str, SceneSpec], steps: int = 2) -> dict[str, object]:
    west, east = scenes[JUNE[0].id], scenes[JUNE[0].id.replace("T50SLK", "T50SMK")]
    return {"bboxes": [list(bbox_inside(west, 200, 200, 60)), list(bbox_inside(east, 300, 100, 60))],
            "model_type": "ndvi", "date": "2024-06-01", "chip_size": 64, "cloud_coverage": 50,
            "num_steps": steps, "data_source": "S2", "temporal_step": 10, "temporal_tolerance": 3}


async def test_geo_task_cli_runs_a_task_and_refuses_a_bad_one(stac, tmp_path: Path) -> None:
    _site, url, scenes = stac
    config = _config(tmp_path, url)
    cli = cli_runner(config, {**os.environ, "PYTHONUNBUFFERED": "1"})
    request = tmp_path / "task.json"
    request.write_text(json.dumps(_request(scenes)), encoding="utf-8")
    code, out, err = await cli("geo-task", str(request), "--no-progress")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "task 1: created (2 bbox(es), model ndvi)" and lines[1] == "task 1: completed"
    assert "2024-05-22 done, 2024-06-01 done" in lines[2]
    rasters = [Path(line.split(": ", 1)[1]) for line in lines if " processed: " in line]
    assert len(rasters) == 2
    for raster in rasters:
        with rasterio.open(raster) as src:
            assert src.count == 2 and src.descriptions == ("2024-05-22", "2024-06-01")
        assert raster.with_suffix(".png").exists()
    async with SqliteStore.open(tmp_path / "data" / "harvest.db") as store:
        assert len(await store.geo_items(1)) == 4 + 2  # 2 boxes × 2 steps chips + 2 predictions
    code, out, err = await cli("status")
    assert "geo:1" in out and code == 0

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**_request(scenes), "bboxes": [[116.0, 39.0, 115.0, 39.5]]}), encoding="utf-8")
    code, out, err = await cli("geo-task", str(bad), "--no-progress")
    assert code == 2 and "min lon < max lon" in err
    code, out, err = await cli("geo-task", "--resume", "99", "--no-progress")
    assert code == 2 and "no geo task 99" in err


async def test_a_daemon_killed_mid_data_processing_carries_on_after_a_restart(stac, tmp_path: Path) -> None:
    site, url, scenes = stac
    site.latency_s = 0.15  # every COG request takes a while: the kill lands between chips
    config = _config(tmp_path, url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    daemon = await DaemonProcess.start(config, tmp_path, env)
    try:
        api = await daemon.wait_for(lambda e: e["event"] == "api_listening")
        base = api["url"].removesuffix("/api/health")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/api/run-model", json=_request(scenes)) as resp:
                created = await resp.json()
                assert resp.status == 202, created
            await daemon.wait_count("geo_chip", 2, timeout_s=60)
            daemon.proc.send_signal(signal.SIGKILL)
            await daemon.proc.wait()
        async with SqliteStore.open(tmp_path / "data" / "harvest.db") as store:
            before = await store.geo_items(created["id"])
            task = await store.get_task(created["id"])
        assert task is not None and task["stage"] == "data_processing" and 2 <= len(before) < 4
        fetched = Counter(site.file_requests)
        searches = len(site.searches)
        assert searches == 2

        daemon = await DaemonProcess.start(config, tmp_path, env)
        api = await daemon.wait_for(lambda e: e["event"] == "api_listening")
        base = api["url"].removesuffix("/api/health")
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                async with session.get(f"{base}/api/task/{created['id']}") as resp:
                    task = await resp.json()
                if task["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.1)
        assert task["status"] == "completed", task
        assert task["stages"]["data_processing"]["done"] == 4, task
        assert task["stages"]["model_prediction"] == {"total": 2, "done": 2, "failed": 0}, task
        assert len(site.searches) == searches  # the plan was kept: no new search
        again = Counter(site.file_requests) - fetched
        recorded_files = {f"{item.metadata['scene']}/{b}.tif" for item in before.values()
                          for b in ("B04", "B08", "SCL")}
        assert not set(again) & recorded_files, again
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(daemon.proc.wait(), 30)


async def test_geo_task_on_a_terminal_shows_its_bars(stac, tmp_path: Path) -> None:
    from tests.e2e.test_backfill_console import run_on_a_terminal, screen_lines

    _site, url, scenes = stac
    config = _config(tmp_path, url)
    request = tmp_path / "task.json"
    request.write_text(json.dumps(_request(scenes)), encoding="utf-8")
    status, output = await run_on_a_terminal(["geo-task", str(request), "--config", str(config)], tmp_path)
    lines = screen_lines(output)
    assert status == 0, output[-2000:]
    chips = [line for line in lines if line.strip().startswith("chips")]
    predictions = [line for line in lines if line.strip().startswith("predictions")]
    assert chips and "4/4" in chips[-1], lines
    assert predictions and "2/2" in predictions[-1], lines
    assert any(line.startswith("task 1: completed") for line in lines)
