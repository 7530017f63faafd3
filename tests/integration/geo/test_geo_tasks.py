"""Geo tasks: restarts inside each stage, the task lease, a user ONNX segmentation model, and
the HTTP API (``POST /api/run-model``, ``GET /api/task/{id}``, ``GET /api/tasks``, 400s)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio
from aiohttp import web
from onnx import TensorProto, helper

from daemon.api.app import build_app
from daemon.api.geo import GeoApiContext
from daemon.api.health import HealthContext
from daemon.api.tasks import TaskContext
from daemon.config.api import ApiSettings
from daemon.geo.config import GeoModelSettings
from daemon.geo.runner import GeoContext
from daemon.tasks import TaskRunner
from tests.fakes.s2_scenes import scene_reflectance
from tests.integration.geo.conftest import JUNE, GeoWorld, bbox_inside

pytestmark = pytest.mark.integration


def _body(bboxes: list[tuple[float, ...]], **kw: object) -> dict[str, object]:
    return {"bboxes": [list(b) for b in bboxes], "model_type": "ndvi", "date": "2024-06-01", "chip_size": 64,
            "cloud_coverage": 50, "num_steps": 2, "data_source": "S2", "temporal_step": 10,
            "temporal_tolerance": 3, **kw}


def _boxes(geo: GeoWorld) -> list[tuple[float, float, float, float]]:
    spec = geo.scenes[JUNE[0].id]
    return [bbox_inside(spec, 200, 200, 60), bbox_inside(spec, 400, 300, 60)]


async def _interrupted(geo: GeoWorld, task_id: int, after: int, stage_prefix: str) -> None:
    """Advance the task until ``after`` items whose key starts with ``stage_prefix`` are
    recorded, then stop the runner (as a daemon stopping)."""
    stop = asyncio.Event()
    seen: list[str] = []

    def recorded(_task: int, key: str) -> None:
        if key.split("/")[1].startswith(stage_prefix):
            seen.append(key)
            if len(seen) >= after:
                stop.set()

    runner = geo.runner(owner="test:1:geo")
    runner.on_recorded = recorded
    await runner.advance(task_id, stop)


async def test_a_restart_inside_each_stage_completes_with_nothing_fetched_twice(geo: GeoWorld) -> None:
    for spec in JUNE:
        geo.add(spec)
    # the neighbouring tile 20 km east, same dates: every chip of the task has files of its own
    east = [geo.add(replace(spec, id=spec.id.replace("T50SLK", "T50SMK"), left=spec.left + 20000, files={}))
            for spec in JUNE]
    boxes = [bbox_inside(geo.scenes[JUNE[0].id], 200, 200, 60), bbox_inside(east[0], 200, 200, 60)]
    geo.settings = geo.settings.model_copy(update={"chip_reads": 1})
    task_id = await geo.store.create_task("geo_model", _body(boxes), stage="data_processing")

    # 1: stopped inside data_processing after 2 of 4 chips (2 boxes × steps June 1, May 22)
    await _interrupted(geo, task_id, 2, "2024")
    task = await geo.store.get_task(task_id)
    assert task is not None and task["stage"] == "data_processing"
    done_first = set(await geo.store.geo_items(task_id))
    assert len(done_first) == 2
    fetched_first = Counter(geo.site.file_requests)
    assert len(geo.site.searches) == 2  # one search per bbox

    # 2: a new process (another lease owner) resumes from the stored plan: no search, the
    # recorded chips' files are not read again; stopped inside model_prediction after 1 of 2
    await _interrupted(geo, task_id, 1, "ndvi")
    task = await geo.store.get_task(task_id)
    assert task is not None and task["stage"] == "model_prediction"
    assert len(geo.site.searches) == 2
    items = await geo.store.geo_items(task_id)
    first_scene_files = {f"{items[k].metadata['scene']}/{b}.tif"
                         for k in done_first for b in ("B04", "B08", "SCL")}
    second = Counter(geo.site.file_requests) - fetched_first
    assert not set(second) & first_scene_files, second  # nothing fetched twice
    predicted = [k for k in items if "/ndvi/" in k]
    assert len(predicted) == 1
    first_pred = geo.library / items[predicted[0]].path
    mtime = first_pred.stat().st_mtime_ns

    # 3: the prediction stage resumes: the other cell only; no COG read at all
    before = Counter(geo.site.file_requests)
    final = await geo.runner(owner="test:3:geo").advance(task_id, asyncio.Event())
    assert final == "completed"
    assert Counter(geo.site.file_requests) == before
    assert first_pred.stat().st_mtime_ns == mtime
    task = await geo.store.get_task(task_id)
    assert task is not None
    assert task["detail"]["stages"] == {
        "data_processing": {"total": 4, "done": 4, "missing": 0, "failed": 0, "searches": 2},
        "model_prediction": {"total": 2, "done": 2, "failed": 0}}
    for box in task["detail"]["bboxes"]:
        assert [s["status"] for s in box["steps"]] == ["done", "done"]
        assert box["predictions"][0]["status"] == "processed"


async def test_a_leased_task_is_left_to_its_holder_until_the_lease_expires(geo: GeoWorld) -> None:
    geo.add(JUNE[0])
    task_id = await geo.store.create_task("geo_model", _body(_boxes(geo)[:1], num_steps=1),
                                          stage="data_processing")
    assert await geo.store.lease_task(task_id, "other-host:99:geo", 60.0)
    assert await geo.runner().advance(task_id, asyncio.Event()) is None
    assert geo.site.searches == []
    assert await geo.store.lease_task(task_id, "other-host:99:geo", -1.0)  # as if it had expired
    assert await geo.runner().advance(task_id, asyncio.Event()) == "completed"


def _segmentation_model(path: Path) -> None:
    """A 1×1 convolution: logits (red, nir) → class 1 ("vegetation") where NIR > red."""
    weights = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [1.0, 0.0, 0.0, 1.0])
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["logits"])], "veg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2, None, None])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


async def test_a_user_onnx_segmentation_model_gives_the_expected_raster(geo: GeoWorld, tmp_path: Path) -> None:
    spec = geo.add(JUNE[0])
    _segmentation_model(tmp_path / "veg.onnx")
    geo.models["veg"] = GeoModelSettings(path=tmp_path / "veg.onnx", bands=["B04", "B08"], mean=[0.0, 0.0],
                                         std=[1.0, 1.0], input_size=64, output="segmentation",
                                         labels=["bare", "vegetation"])
    task = await geo.run_task(_body([bbox_inside(spec, 90, 90, 60)], model_type="veg", num_steps=1))
    assert task["stage"] == "completed", task
    items = await geo.store.geo_items(task["id"])
    chip, pred = items["b0/2024-06-01/r0c0"], items["b0/veg/r0c0"]
    with rasterio.open(geo.library / chip.path) as src:
        t = src.transform
        dn = src.read()
    row0, col0 = round((spec.top - t.f) / 10), round((t.c - spec.left) / 10)
    refl = scene_reflectance()[:, row0:row0 + 64, col0:col0 + 64]
    cloudy = dn[0] == 0  # SCL-masked
    assert cloudy.any() and (~cloudy).any()
    expected = np.where(cloudy, 255, (refl[3] > refl[2]).astype(np.uint8))
    with rasterio.open(geo.library / pred.path) as src:
        classes = src.read(1)
        assert src.transform == t and src.nodata == 255 and src.dtypes[0] == "uint8"
    assert np.array_equal(classes, expected)
    fractions = pred.metadata["newest"]["fractions"]
    assert fractions["vegetation"] == pytest.approx(float(expected[~cloudy].mean()), abs=1e-6)
    assert pred.metadata["output"] == "segmentation"


async def test_the_api_takes_the_seed_body_and_reports_stages(geo: GeoWorld, aiohttp_client) -> None:
    for spec in JUNE:
        geo.add(spec)
    runner = geo.runner()
    runner.poll_s = 0.05
    settings = geo.settings.model_copy(update={"stac_url": geo.url, "max_bbox_km2": 500.0})
    geo_ctx = GeoApiContext(geo.store, lambda: GeoContext(settings, geo.models, geo.library), runner.wake.set)
    tasks = TaskContext(geo.store, TaskRunner(geo.store, geo.http, dict, lambda: None), dict, set)
    health = HealthContext(geo.store, None, None, dict, lambda: 0.0, 5.0)  # type: ignore[arg-type]  # not asked
    app: web.Application = build_app(health, ApiSettings(), tasks=tasks, geo=geo_ctx)
    client = await aiohttp_client(app)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(runner.run(stop))
    try:
        bad = [
            ({**_body(_boxes(geo)), "bboxes": [[116.0, 95.0, 116.5, 96.0]]}, "latitudes must be within -90…90"),
            ({**_body(_boxes(geo)), "bboxes": [[116.5, 39.0, 116.0, 39.5]]}, "min lon < max lon"),
            ({**_body(_boxes(geo)), "bboxes": [[100.0, 30.0, 101.0, 31.0]]}, "over the cap of 500 km²"),
            ({**_body(_boxes(geo)), "model_type": "nope"}, "unknown model_type 'nope'"),
            ({**_body(_boxes(geo)), "bboxes": []}, "bboxes"),
            ({**_body(_boxes(geo)), "date": "June"}, "date"),
            ({**_body(_boxes(geo)), "data_source": "L8"}, "data_source"),
            ({**_body(_boxes(geo)), "extra": 1}, "extra"),
        ]
        for body, reason in bad:
            resp = await client.post("/api/run-model", json=body)
            assert resp.status == 400 and reason in (await resp.json())["error"], (body, await resp.text())
        resp = await client.post("/api/run-model", json=_body(_boxes(geo)))
        created = await resp.json()
        assert resp.status == 202 and created["status"] == "data_processing"
        assert resp.headers["Location"] == f"/api/task/{created['id']}"
        for _ in range(300):
            task = await (await client.get(f"/api/task/{created['id']}")).json()
            if task["status"] in ("completed", "failed"):
                break
            assert task["status"] in ("data_processing", "model_prediction")
            await asyncio.sleep(0.05)
        assert task["status"] == "completed", task
        assert task["model_type"] == "ndvi" and task["bbox_count"] == 2
        assert task["stages"]["model_prediction"] == {"total": 2, "done": 2, "failed": 0}
        assert [s["date"] for s in task["detail"]["bboxes"][0]["steps"]] == ["2024-05-22", "2024-06-01"]
        listing = await (await client.get("/api/tasks")).json()
        row = listing["tasks"][0]
        assert (row["status"], row["bbox_count"], row["model_type"]) == ("completed", 2, "ndvi")
        assert row["stages"] == task["stages"] and "detail" not in row and "plan" not in row
    finally:
        stop.set()
        await loop_task


async def test_a_runner_whose_lease_was_taken_stops_working_on_the_task(geo: GeoWorld) -> None:
    geo.add(JUNE[0])
    task_id = await geo.store.create_task("geo_model", _body(_boxes(geo)[:1], num_steps=1),
                                          stage="data_processing")
    runner = geo.runner(lease_s=0.03)
    assert await geo.store.lease_task(task_id, runner.owner, 0.03)
    await asyncio.sleep(0.05)  # this process stalled past its lease: another takes the task
    assert await geo.store.lease_task(task_id, "other-host:7:geo", 60.0)
    lost = asyncio.Event()
    await asyncio.wait_for(runner._renew(task_id, lost), 5)
    assert lost.is_set()


async def test_a_stac_outage_makes_the_task_wait_not_fail(geo: GeoWorld) -> None:
    geo.add(JUNE[0])
    task_id = await geo.store.create_task("geo_model", _body(_boxes(geo)[:1], num_steps=1),
                                          stage="data_processing")
    geo.site.unavailable = 10**6  # 503 to every search, after the client's retries too
    runner = geo.runner()
    assert await runner.advance(task_id, asyncio.Event()) == "data_processing"
    task = await geo.store.get_task(task_id)
    assert task is not None and task["error"].startswith("waiting to retry: ") and "503" in task["error"]
    geo.site.unavailable = 0  # the API is back
    assert await runner.advance(task_id, asyncio.Event()) == "completed"
    task = await geo.store.get_task(task_id)
    assert task is not None and task["error"] is None


async def test_a_collection_with_nothing_fails_the_task_saying_so(geo: GeoWorld) -> None:
    geo.add(JUNE[0])
    geo.settings = geo.settings.model_copy(update={"collection": "no-such"})
    task = await geo.run_task(_body(_boxes(geo)[:1], num_steps=1))
    # a collection the API does not hold: no items, hence no scene for any step
    assert task["stage"] == "failed" and "no scene" in task["error"]
