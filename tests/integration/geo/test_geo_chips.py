"""Geo tasks end to end in-process: STAC search on the imitation, chips from real-pixel COGs
over HTTP range reads, SCL masking, golden NDVI, scene choice, missing steps, two scenes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from tests.fakes.s2_scenes import SceneSpec, scene_reflectance
from tests.integration.geo.conftest import JUNE, GeoWorld, bbox_inside

pytestmark = pytest.mark.integration


def _body(bbox: tuple[float, ...], **kw: object) -> dict[str, object]:
    return {"bboxes": [list(bbox)], "model_type": "ndvi", "date": "2024-06-01", "chip_size": 64,
            "cloud_coverage": 15, "num_steps": 1, "data_source": "S2", "temporal_step": 10,
            "temporal_tolerance": 3, **kw}


def _window(spec: SceneSpec, path: object) -> tuple[int, int, rasterio.Affine]:
    with rasterio.open(path) as src:
        t = src.transform
    return round((spec.top - t.f) / 10), round((t.c - spec.left) / 10), t


async def test_ndvi_chip_golden_georeferenced_and_cloud_masked(geo: GeoWorld) -> None:
    for spec in JUNE:
        geo.add(spec)
    chosen = geo.scenes[JUNE[0].id]  # 4.5 % beats 12 % (both within ±3 days of June 1)
    bbox = bbox_inside(chosen, 90, 90, 60)
    task = await geo.run_task(_body(bbox))
    assert task["stage"] == "completed", task
    detail = task["detail"]
    assert detail["stages"]["data_processing"] == {"total": 1, "done": 1, "missing": 0, "failed": 0,
                                                   "searches": 1}
    step = detail["bboxes"][0]["steps"][0]
    assert step["scenes"] == [chosen.id] and step["status"] == "done" and step["cloud_cover"] == [4.5]
    items = await geo.store.geo_items(task["id"])
    chip = items["b0/2024-06-01/r0c0"]
    assert chip.status == "downloaded" and chip.path == f"geo/{task['id']}/0/2024-06-01.tif"
    path = geo.library / chip.path
    row0, col0, transform = _window(chosen, path)

    # georeference: the chip (EPSG:32650, 10 m) is centred on the bbox within a pixel and holds it
    left, bottom, right, top = transform_bounds(CRS.from_epsg(4326), CRS.from_epsg(32650), *bbox,
                                                densify_pts=21)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32650 and src.res == (10.0, 10.0) and src.shape == (64, 64)
        assert list(src.descriptions) == ["B04", "B08"] and src.nodata == 0
        assert src.scales == (0.0001, 0.0001) and src.offsets == (-0.1, -0.1)
        cl, cb, cr, ct = src.bounds
        dn = src.read()
    assert abs((cl + cr) / 2 - (left + right) / 2) <= 10 and abs((cb + ct) / 2 - (bottom + top) / 2) <= 10
    assert cl <= left and cr >= right and cb <= bottom and ct >= top

    # SCL: the scene's cloud box (20 m rows/cols 0-59 → 10 m 0-119) is nodata in every band
    rows = np.arange(row0, row0 + 64)[:, None]
    cols = np.arange(col0, col0 + 64)[None, :]
    cloudy = (rows < 120) & (cols < 120)
    assert cloudy.any() and (~cloudy).any()
    assert (dn[:, cloudy] == 0).all()
    refl = scene_reflectance()[:, row0:row0 + 64, col0:col0 + 64]
    assert np.array_equal(dn[:, ~cloudy], (np.round(refl[[2, 3]] * 10000) + 1000).astype(np.uint16)[:, ~cloudy])

    # golden NDVI: an independent numpy computation on the same pixels (reflectance = DN / 10000)
    red, nir = refl[2], refl[3]
    expected = (nir - red) / (nir + red)
    pred = items.get("b0/ndvi/r0c0")
    assert pred is not None and pred.status == "processed"
    with rasterio.open(geo.library / pred.path) as src:
        ndvi = src.read(1)
        assert src.transform == transform and src.crs.to_epsg() == 32650
    assert np.isnan(ndvi[cloudy]).all()
    np.testing.assert_allclose(ndvi[~cloudy], expected[~cloudy], atol=2e-6)
    newest = pred.metadata["newest"]
    assert newest["valid_pixels"] == int((~cloudy).sum())
    assert newest["mean"] == pytest.approx(float(expected[~cloudy].mean()), abs=1e-5)
    assert (geo.library / pred.metadata["preview"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # only the needed files were read, each by ranges: 2 bands + SCL of the chosen scene
    assert set(geo.site.file_requests) == {f"{chosen.id}/{b}.tif" for b in ("B04", "B08", "SCL")}


async def test_cloudier_scene_skipped_and_missing_steps_reported(geo: GeoWorld) -> None:
    for spec in JUNE:
        geo.add(spec)
    bbox = bbox_inside(geo.scenes[JUNE[0].id], 200, 200, 60)
    # steps June 1, May 22, May 12 (± 3 days): May 20 is 40 % cloudy (> 15): May 22 missing;
    # nothing near May 12: missing
    task = await geo.run_task(_body(bbox, num_steps=3))
    assert task["stage"] == "completed"
    steps = {s["date"]: s for s in task["detail"]["bboxes"][0]["steps"]}
    assert steps["2024-06-01"]["scenes"] == [JUNE[0].id] and steps["2024-06-01"]["status"] == "done"
    assert steps["2024-05-22"]["status"] == "missing" and steps["2024-05-22"]["scenes"] == []
    assert steps["2024-05-12"]["status"] == "missing"
    assert task["detail"]["stages"]["data_processing"]["missing"] == 2
    items = await geo.store.geo_items(task["id"])
    assert sorted(k for k in items if "/2024-" in k) == ["b0/2024-06-01/r0c0"]  # nothing invented
    with rasterio.open(geo.library / items["b0/ndvi/r0c0"].path) as src:
        assert src.count == 1 and src.descriptions == ("2024-06-01",)
    # with a looser cloud limit the May 20 scene fills the May 22 step
    loose = await geo.run_task(_body(bbox, num_steps=3, cloud_coverage=50))
    steps = {s["date"]: s for s in loose["detail"]["bboxes"][0]["steps"]}
    assert steps["2024-05-22"]["scenes"] == [JUNE[2].id]


async def test_a_task_with_no_scene_fails_with_the_reason(geo: GeoWorld) -> None:
    geo.add(JUNE[0])
    bbox = bbox_inside(geo.scenes[JUNE[0].id], 200, 200, 60)
    task = await geo.run_task(_body(bbox, date="2023-01-01"))
    assert task["stage"] == "failed"
    assert task["error"] == "no scene within the date tolerance and the cloud limit for any step"
    assert geo.site.file_requests == {}


async def test_bbox_across_two_scenes_takes_each_chip_from_a_scene_covering_it(geo: GeoWorld) -> None:
    when = datetime(2024, 6, 1, 3, 5, 19, tzinfo=UTC)
    west = geo.add(SceneSpec("S2B_T50SLK_20240601T030519_L2A", when, 2.0))
    # the neighbouring tile overlaps by 2 km (MGRS tiles overlap), same UTM zone
    east = geo.add(SceneSpec("S2B_T50SMK_20240601T030519_L2A", when, 3.0, left=west.left + 4000))
    # 8 km wide: from 1 km inside the west scene to 1 km short of the east scene's edge
    left, top = west.left + 1000 + 5, west.top - 1000 - 5
    w, s, e, n = transform_bounds(CRS.from_epsg(32650), CRS.from_epsg(4326), left, top - 1270, left + 7990,
                                  top)
    task = await geo.run_task(_body((w, s, e, n), chip_size=128))
    assert task["stage"] == "completed", task
    items = await geo.store.geo_items(task["id"])
    chips = {k: v for k, v in items.items() if k.startswith("b0/2024")}
    assert len(chips) == task["detail"]["bboxes"][0]["chips_per_step"] >= 6
    used = {v.metadata["scene"] for v in chips.values()}
    assert used == {west.id, east.id}
    refl = scene_reflectance()
    for item in chips.values():
        spec = west if item.metadata["scene"] == west.id else east
        row0, col0, _t = _window(spec, geo.library / item.path)
        assert col0 >= 0 and col0 + 128 <= 600  # inside the scene it came from
        with rasterio.open(geo.library / item.path) as src:
            dn = src.read(1)
        expected = (np.round(refl[2, row0:row0 + 128, col0:col0 + 128] * 10000) + 1000).astype(np.uint16)
        assert np.array_equal(dn, expected)


def test_a_file_with_giant_blocks_is_refused_before_decoding(tmp_path) -> None:
    from rasterio.transform import Affine

    from daemon.geo.chips import GDAL_ENV, BandRef, ChipReadError, ChipWindow, read_band

    path = tmp_path / "huge_blocks.tif"
    profile = {"driver": "GTiff", "width": 600, "height": 600, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32650", "transform": Affine(10, 0, 440000, 0, -10, 4350000), "nodata": 0,
               "tiled": True, "blockxsize": 8192, "blockysize": 8192, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, 600, 600), np.uint16))
    window = ChipWindow(32650, Affine(10, 0, 440000, 0, -10, 4350000), 64)
    with pytest.raises(ChipReadError, match="internal blocks of 8192 × 8192 pixels"):
        read_band(BandRef(str(path), 0), window, GDAL_ENV)
