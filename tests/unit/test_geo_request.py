"""Geo task requests, chip grids and the choice of a scene per step (no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from shapely.geometry import Polygon, box

from daemon.geo.bands import S2
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.geo.grid import bbox_area_km2, chip_grid, utm_epsg
from daemon.geo.request import GeoRequestError, check_geo_request
from daemon.geo.stac import Scene, StacError, choose_scene, to_scene

pytestmark = pytest.mark.unit

SEED = {"bboxes": [[116.0, 39.0, 116.5, 39.5], [-74.1, 40.6, -73.9, 40.8]], "model_type": "ndvi",
        "date": "2024-06-01", "chip_size": 256, "cloud_coverage": 15, "num_steps": 5, "data_source": "S2",
        "temporal_step": 10, "temporal_tolerance": 3}


def test_the_seed_body_is_taken_as_written_with_its_steps() -> None:
    req = check_geo_request(SEED, GeoSettings(max_chips=100_000), {})
    assert req.step_dates() == [date(2024, 4, 22), date(2024, 5, 2), date(2024, 5, 12), date(2024, 5, 22),
                                date(2024, 6, 1)]
    assert req.bands({}) == ["B04", "B08"]


@pytest.mark.parametrize("change, reason", [
    ({"bboxes": [[116.0, 91.0, 116.5, 92.0]]}, "latitudes must be within -90…90"),
    ({"bboxes": [[181.0, 39.0, 182.0, 39.5]]}, "longitudes must be within -180…180"),
    ({"bboxes": [[116.5, 39.0, 116.0, 39.5]]}, "min lon < max lon"),
    ({"bboxes": [[116.0, 39.5, 116.5, 39.5]]}, "min lat < max lat"),
    ({"bboxes": [[116.0, 39.0, 116.5]]}, "bboxes.0"),
    ({"bboxes": []}, "bboxes"),
    ({"chip_size": "256"}, "chip_size"),
    ({"num_steps": True}, "num_steps"),
    ({"cloud_coverage": 101}, "cloud_coverage"),
    ({"data_source": "L8"}, "data_source"),
    ({"date": "2024-13-01"}, "date"),
    ({"model_type": "flood"}, "unknown model_type 'flood' (one of ndvi, ndwi, savi)"),
    ({"surprise": 1}, "surprise"),
])
def test_a_bad_request_names_its_fault(change: dict[str, object], reason: str) -> None:
    with pytest.raises(GeoRequestError, match=None) as err:
        check_geo_request({**SEED, **change}, GeoSettings(max_chips=100_000), {})
    assert reason in str(err.value)


@pytest.mark.parametrize("settings, reason", [
    (GeoSettings(max_bbox_km2=1000),
     "bboxes[0] covers 2,383 km², over the cap of 1,000 km² ([geo] max_bbox_km2)"),
    (GeoSettings(max_bboxes=1), "bboxes is 2, over the cap of 1 ([geo] max_bboxes)"),
    (GeoSettings(max_steps=4), "num_steps is 5, over the cap of 4 ([geo] max_steps)"),
    (GeoSettings(max_chip_size=128), "chip_size is 256, over the cap of 128 ([geo] max_chip_size)"),
    (GeoSettings(max_chips=1000), "over the cap of 1000 ([geo] max_chips)"),
    (GeoSettings(max_chips=100_000, max_chip_bytes=1 << 20),
     "MiB, over the cap of 1 MiB ([geo] max_chip_bytes)"),
])
def test_caps_refuse_with_the_key_to_raise(settings: GeoSettings, reason: str) -> None:
    with pytest.raises(GeoRequestError) as err:
        check_geo_request(SEED, settings, {})
    assert reason in str(err.value)


def test_a_user_model_fixes_chip_size_and_steps(tmp_path: Path) -> None:
    model = GeoModelSettings(path=tmp_path / "m.onnx", bands=["B04", "B08"], mean=[0, 0], std=[1, 1],
                             input_size=128, steps=3)
    body = {**SEED, "bboxes": SEED["bboxes"][:1], "model_type": "flood"}
    with pytest.raises(GeoRequestError, match="takes 128-pixel chips: chip_size is 256"):
        check_geo_request(body, GeoSettings(max_chips=100_000), {"flood": model})
    with pytest.raises(GeoRequestError, match="stacks 3 temporal steps: num_steps is 2"):
        check_geo_request({**body, "chip_size": 128, "num_steps": 2}, GeoSettings(max_chips=100_000),
                          {"flood": model})
    assert check_geo_request({**body, "chip_size": 128}, GeoSettings(max_chips=100_000), {"flood": model})
    with pytest.raises(ValueError, match="one value per band"):
        GeoModelSettings(path=tmp_path / "m.onnx", bands=["B04"], mean=[0, 0], std=[1])


def test_grids_are_in_the_utm_zone_on_the_10m_lattice_and_cover_the_box() -> None:
    assert (utm_epsg(116.25, 39.25), utm_epsg(-74.0, 40.7), utm_epsg(-64.19, -31.42)) == (32650, 32618, 32720)
    assert bbox_area_km2((116.0, 39.0, 116.5, 39.5)) == pytest.approx(2383, rel=0.01)
    grid = chip_grid((116.0, 39.0, 116.5, 39.5), 256, 10.0)
    assert grid.epsg == 32650 and grid.left % 10 == 0 and grid.top % 10 == 0
    assert (grid.rows, grid.cols) == (22, 18)  # 55.8 km × 43.6 km (projected, densified) in 2.56 km chips
    right = grid.bounds(grid.rows - 1, grid.cols - 1)[2]
    assert grid.bounds(0, 0)[3] == grid.top and right == grid.left + 18 * 2560
    ring = grid.footprint(0, 0)
    assert ring[0] == ring[-1] and len(ring) == 33
    assert Polygon(ring).contains(Polygon(grid.footprint(0, 0, 4)).centroid)
    with pytest.raises(ValueError):
        chip_grid((1.0, 1.0, 1.0, 2.0), 256, 10.0)


def _scene(name: str, day: int, cloud: float, footprint: Polygon | None = None) -> Scene:
    outline = footprint or box(0, 0, 10, 10)
    return Scene(name, datetime(2024, 6, day, 3, tzinfo=UTC), cloud, 32650, outline, {}, None)


def test_the_least_cloudy_covering_scene_within_the_tolerance_is_chosen() -> None:
    chip = box(1, 1, 2, 2)
    scenes = [_scene("a", 1, 12.0), _scene("b", 3, 4.0), _scene("c", 5, 1.0),
              _scene("d", 2, 0.5, box(5, 5, 9, 9)), _scene("e", 1, 30.0)]
    pick = choose_scene(scenes, date(2024, 6, 1), 3, 15.0, chip, set())
    assert pick is not None and pick.id == "b"  # c is 4 days away, d does not cover, e too cloudy
    pick = choose_scene(scenes, date(2024, 6, 1), 3, 15.0, chip, {"b"})
    assert pick is not None and pick.id == "a"  # b already serves another step of this chip
    assert choose_scene(scenes, date(2024, 6, 20), 3, 15.0, chip, set()) is None  # missing, not invented
    tie = [_scene("x", 2, 5.0), _scene("y", 1, 5.0)]
    chosen = choose_scene(tie, date(2024, 6, 1), 3, 15.0, chip, set())
    assert chosen is not None and chosen.id == "y"  # same cloud: the nearer date


def test_items_without_a_needed_band_or_with_a_broken_shape_are_refused() -> None:
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2A_X", "properties": {
        "datetime": "2024-06-01T03:05:19.000000Z", "eo:cloud_cover": 3, "proj:code": "EPSG:32650"},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
        "bbox": [0, 0, 1, 1], "links": [], "assets": {
            "red": {"href": "https://x/B04.tif",
                    "raster:bands": [{"scale": 0.0001, "offset": -0.1, "nodata": 0}]},
            "nir": {"href": "https://x/B08.tif"}}}
    scene = to_scene(item, ["B04", "B08"], S2)
    assert scene.epsg == 32650 and scene.cloud_cover == 3.0 and scene.mask is None
    assert (scene.bands["B04"].scale, scene.bands["B04"].offset) == (0.0001, -0.1)
    assert (scene.bands["B08"].scale, scene.bands["B08"].offset) == (0.0001, 0.0)  # no raster:bands: defaults
    with pytest.raises(StacError, match="no asset for band B03"):
        to_scene(item, ["B03"], S2)
    with pytest.raises(StacError, match="not a STAC item"):
        to_scene({"id": "x"}, ["B04"], S2)


def test_an_item_pointing_at_a_local_path_is_refused() -> None:
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2A_EVIL",
            "properties": {"datetime": "2024-06-01T03:05:19Z"},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
            "bbox": [0, 0, 1, 1], "links": [],
            "assets": {"red": {"href": "/etc/harvestd/config.toml"}, "nir": {"href": "/vsizip//x.zip/a.tif"},
                       "scl": {"href": "s3://sentinel-s2-l2a/tiles/SCL.jp2"}}}
    with pytest.raises(StacError, match="band B04 is not at an http"):
        to_scene(item, ["B04"], S2)
    item["assets"]["red"]["href"] = "https://x/B04.tif"
    with pytest.raises(StacError, match="band B08 is not at an http"):
        to_scene(item, ["B04", "B08"], S2)
    assert to_scene(item, ["B04"], S2).mask is None  # an s3:// SCL twin is not read
