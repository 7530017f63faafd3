"""HLS through NASA's CMR-STAC: Earthdata Login (user name and password exchanged for a
bearer token), a protected COG host, Fmask bits, int16 reflectance with fill −9999."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from tests.fakes.s2_scenes import SceneSpec, hls_item_dict, make_hls_scene, scene_reflectance
from tests.integration.geo.conftest import GeoWorld

pytestmark = pytest.mark.integration

GRANULE = SceneSpec("HLS.S30.T50SLK.2024153T030519.v2.0", datetime(2024, 6, 1, 3, 5, 19, tzinfo=UTC), 8.0,
                    left=440010.0, top=4350000.0, cloud_box=(40, 40, 70, 70))


def _hls_world(geo: GeoWorld) -> SceneSpec:
    geo.site.cmr_style = True
    spec = make_hls_scene(geo.site.cog_dir, GRANULE)
    geo.site.items.append(hls_item_dict(spec, geo.url + "protected"))
    geo.settings = geo.settings.model_copy(update={"hls_stac_url": geo.url,
                                                   "edl_token_url": geo.url + "edl/token"})
    return spec


def _bbox(spec: SceneSpec) -> tuple[float, float, float, float]:
    # 60 × 60 pixels of 30 m from pixel (30, 30) of the granule, shrunk by half a pixel
    left, top = spec.left + 30 * 30 + 15, spec.top - 30 * 30 - 15
    return transform_bounds(CRS.from_epsg(32650), CRS.from_epsg(4326), left, top - 60 * 30 + 30,
                            left + 60 * 30 - 30, top)


async def test_an_hls_task_logs_in_reads_protected_cogs_and_masks_fmask_cloud_bits(
        geo: GeoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _hls_world(geo)
    monkeypatch.setenv("EARTHDATA_USERNAME", geo.site.edl_user)
    monkeypatch.setenv("EARTHDATA_PASSWORD", geo.site.edl_password)
    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    body = {"bboxes": [list(_bbox(spec))], "model_type": "ndvi", "date": "2024-06-02", "chip_size": 64,
            "cloud_coverage": 15, "num_steps": 1, "data_source": "HLS", "temporal_step": 10,
            "temporal_tolerance": 3}
    task = await geo.run_task(body)
    assert task["stage"] == "completed", task
    assert geo.site.token_requests == 1 and geo.site.refused == 0
    assert geo.site.searches[0]["collections"] == ["HLSS30_2.0", "HLSL30_2.0"]
    first = geo.site.searches[0]
    assert first["query"] == {"eo:cloud_cover": {"lt": 15}} and "sortby" not in first
    items = await geo.store.geo_items(task["id"])
    chip = items["b0/2024-06-02/r0c0"]  # the step is the requested date; the granule is June 1
    with rasterio.open(geo.library / chip.path) as src:
        assert src.crs.to_epsg() == 32650 and src.res == (30.0, 30.0) and src.nodata == -9999
        assert src.dtypes[0] == "int16" and src.scales == (0.0001, 0.0001)
        t = src.transform
        dn = src.read()
    # the granule's grid is on 30 m multiples + 10 m (as S2's MGRS origins are): the chip grid
    # (30 m multiples) is shifted by a third of a pixel, read by nearest neighbour
    row0 = round((spec.top - t.f) / 30)
    col0 = round((t.c - spec.left) / 30)
    rows = np.arange(row0, row0 + 64)[:, None]
    cols = np.arange(col0, col0 + 64)[None, :]
    cloudy = (rows >= 40) & (rows < 70) & (cols >= 40) & (cols < 70)
    assert cloudy.any() and (~cloudy).any()
    assert (dn[:, cloudy] == -9999).all()
    refl = scene_reflectance()[:, row0:row0 + 64, col0:col0 + 64]
    assert np.array_equal(dn[0][~cloudy], np.round(refl[2] * 10000).astype(np.int16)[~cloudy])
    with rasterio.open(geo.library / items["b0/ndvi/r0c0"].path) as src:
        ndvi = src.read(1)
    red, nir = refl[2], refl[3]
    np.testing.assert_allclose(ndvi[~cloudy], ((nir - red) / (nir + red))[~cloudy], atol=2e-6)
    assert np.isnan(ndvi[cloudy]).all()


async def test_an_hls_task_without_credentials_fails_with_the_reason(
        geo: GeoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _hls_world(geo)
    for name in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    body = {"bboxes": [list(_bbox(spec))], "model_type": "ndvi", "date": "2024-06-02", "chip_size": 64,
            "cloud_coverage": 15, "num_steps": 1, "data_source": "HLS"}
    task = await geo.run_task(body)
    assert task["stage"] == "failed" and "EARTHDATA_TOKEN, or EARTHDATA_USERNAME" in task["error"]
    monkeypatch.setenv("EARTHDATA_TOKEN", "wrong-token")
    task = await geo.run_task(body)
    assert task["stage"] == "failed" and "no chip could be read" in task["error"]
    assert geo.site.refused > 0
