"""Sentinel-2 L2A scenes as Earth Search serves them, built from real pixels.

The pixels are spyndex's real Sentinel-2 10 m sample (B02, B03, B04, B08; 300 × 300,
reflectance × 10000), mirrored 2 × 2 into a 600 × 600 scene (6 km), written as
``sentinel-2-c1-l2a`` COGs would be: uint16 ESA digital numbers (reflectance × 10000 + 1000,
nodata 0; ``raster:bands`` scale 0.0001, offset −0.1), tiled and overviewed, DEFLATE with
predictor 2, in a real UTM georeference (``stac_sentinel2.md`` §6 recipe). The 20 m bands
(SCL) are half the size with the same origin. The item dicts follow §1.5 (c1 ids,
``proj:epsg`` int, ``mgrs:*``, ``grid:code``, assets keyed by common name).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds

SAMPLE_BANDS = ("B02", "B03", "B04", "B08")
ASSET_KEYS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir"}
SCENE_PX = 600
BOA_ADD = 1000  # baseline ≥ 04.00: DN = reflectance × 10000 + 1000
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def spyndex_sample() -> np.ndarray:
    """``(4, 300, 300)`` int: B02 B03 B04 B08, reflectance × 10000, rows north → south.

    spyndex stores the dims as ``("band", "x", "y")``; the array is transposed to (band, y, x)."""
    spec = importlib.util.find_spec("spyndex")
    assert spec is not None and spec.submodule_search_locations, "pip install spyndex (dev extra)"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "S2_10m.json"
    return np.asarray(json.loads(path.read_text()), dtype=np.int64).transpose(0, 2, 1)


def scene_reflectance() -> np.ndarray:
    """``(4, 600, 600)`` float64 reflectance (0…1) of every made scene: the sample mirrored."""
    a = spyndex_sample()
    top = np.concatenate([a, a[:, :, ::-1]], axis=2)
    return np.concatenate([top, top[:, ::-1, :]], axis=1) / 10000.0


@dataclass
class SceneSpec:
    """One scene: id, time (UTC), cloud cover %, EPSG, upper-left corner (metres, 10 m grid),
    and SCL: 4 (vegetation) except ``cloud_box`` (row0, col0, row1, col1 at 20 m) = 9."""

    id: str
    when: datetime
    cloud_cover: float
    epsg: int = 32650
    left: float = 440000.0
    top: float = 4350000.0
    cloud_box: tuple[int, int, int, int] | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def transform(self) -> Affine:
        return Affine(10.0, 0.0, self.left, 0.0, -10.0, self.top)

    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        right, bottom = self.left + SCENE_PX * 10.0, self.top - SCENE_PX * 10.0
        return transform_bounds(CRS.from_epsg(self.epsg), CRS.from_epsg(4326), self.left, bottom, right,
                                self.top, densify_pts=21)

    def footprint_wgs84(self) -> list[list[float]]:
        """The scene's outline in WGS84 (a closed ring, 10 points per side): the valid-data
        footprint a real item's ``geometry`` gives."""
        side = SCENE_PX * 10.0
        f = [i / 10 for i in range(10)]
        xs = ([self.left + t * side for t in f] + [self.left + side] * 10
              + [self.left + side - t * side for t in f] + [self.left] * 10)
        ys = ([self.top] * 10 + [self.top - t * side for t in f]
              + [self.top - side] * 10 + [self.top - side + t * side for t in f])
        lons, lats = warp_transform(CRS.from_epsg(self.epsg), CRS.from_epsg(4326), xs, ys)
        ring = [[lon, lat] for lon, lat in zip(lons, lats, strict=True)]
        return [*ring, ring[0]]


def write_cog(path: Path, data: np.ndarray, epsg: int, transform: Affine, scale: float | None,
              offset: float | None, nodata: float = 0) -> None:
    """One band as a COG (256-pixel blocks, DEFLATE + predictor 2, average overviews)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "COG", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype.name, "crs": CRS.from_epsg(epsg), "transform": transform, "nodata": nodata,
               "compress": "DEFLATE", "predictor": 2, "blocksize": 256, "overview_resampling": "average"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        if scale is not None:
            dst.scales = (scale,)
            dst.offsets = (offset or 0.0,)


def make_scene(folder: Path, spec: SceneSpec) -> SceneSpec:
    """Write the scene's COGs (B02, B03, B04, B08 at 10 m, SCL at 20 m) under ``folder/id``."""
    dn = (np.round(scene_reflectance() * 10000.0) + BOA_ADD).astype(np.uint16)
    for i, band in enumerate(SAMPLE_BANDS):
        path = folder / spec.id / f"{band}.tif"
        write_cog(path, dn[i], spec.epsg, spec.transform, 0.0001, -0.1)
        spec.files[band] = path
    scl = np.full((SCENE_PX // 2, SCENE_PX // 2), 4, dtype=np.uint8)
    if spec.cloud_box:
        r0, c0, r1, c1 = spec.cloud_box
        scl[r0:r1, c0:c1] = 9
    scl_transform = Affine(20.0, 0.0, spec.left, 0.0, -20.0, spec.top)
    spec.files["SCL"] = folder / spec.id / "SCL.tif"
    write_cog(spec.files["SCL"], scl, spec.epsg, scl_transform, None, None)
    return spec


def item_dict(spec: SceneSpec, base_url: str) -> dict[str, Any]:
    """The Earth Search ``sentinel-2-c1-l2a`` item of a made scene, hrefs under ``base_url``."""
    w, s, e, n = spec.bounds_wgs84()
    zone = spec.epsg % 100
    href = f"{base_url.rstrip('/')}/{spec.id}"
    raster = [{"nodata": 0, "data_type": "uint16", "spatial_resolution": 10, "scale": 0.0001, "offset": -0.1}]
    assets: dict[str, Any] = {
        key: {"href": f"{href}/{band}.tif", "type": COG_TYPE, "title": f"{key} - 10m",
              "eo:bands": [{"name": band, "common_name": key}], "gsd": 10,
              "proj:shape": [SCENE_PX, SCENE_PX], "proj:transform": list(spec.transform)[:6],
              "raster:bands": raster, "roles": ["data", "reflectance"]}
        for band, key in ASSET_KEYS.items()}
    assets["scl"] = {"href": f"{href}/SCL.tif", "type": COG_TYPE, "title": "Scene classification map (SCL)",
                     "gsd": 20, "proj:shape": [SCENE_PX // 2, SCENE_PX // 2],
                     "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
                     "roles": ["data"]}
    assets["thumbnail"] = {"href": f"{href}/L2A_PVI.jpg", "type": "image/jpeg", "roles": ["thumbnail"]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": spec.id, "collection": "sentinel-2-c1-l2a",
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [spec.footprint_wgs84()]},
        "properties": {"datetime": spec.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "platform": "sentinel-2a",
                       "constellation": "sentinel-2", "instruments": ["msi"],
                       "eo:cloud_cover": spec.cloud_cover,
                       "proj:epsg": spec.epsg, "mgrs:utm_zone": zone, "mgrs:latitude_band": "S",
                       "mgrs:grid_square": "LK", "grid:code": f"MGRS-{zone}SLK",
                       "s2:processing_baseline": "05.10", "s2:product_type": "S2MSI2A"},
        "links": [{"rel": "self", "href": f"{base_url}/collections/sentinel-2-c1-l2a/items/{spec.id}"}],
        "assets": assets,
    }


def make_hls_scene(folder: Path, spec: SceneSpec) -> SceneSpec:
    """An HLS S30 v2.0 granule of the same real pixels on a 30 m grid: int16 reflectance ×
    10000 (no offset), fill −9999, B04 and B08, and ``Fmask`` (uint8, fill 255) with bit 1
    (cloud) set in ``cloud_box`` (row0, col0, row1, col1 at 30 m) and bit 5 (water, not a
    masking bit) in the top rows (``stac_sentinel2.md`` §3)."""
    refl = scene_reflectance()
    transform = Affine(30.0, 0.0, spec.left, 0.0, -30.0, spec.top)
    for i, band in enumerate(SAMPLE_BANDS):
        if band not in ("B04", "B08"):
            continue
        path = folder / spec.id / f"{spec.id}.{band}.tif"
        data = np.round(refl[i] * 10000.0).astype(np.int16)
        write_cog(path, data, spec.epsg, transform, None, None, nodata=-9999)
        spec.files[band] = path
    fmask = np.zeros((SCENE_PX, SCENE_PX), dtype=np.uint8)
    fmask[:20, :] |= 1 << 5
    if spec.cloud_box:
        r0, c0, r1, c1 = spec.cloud_box
        fmask[r0:r1, c0:c1] |= 1 << 1
    spec.files["Fmask"] = folder / spec.id / f"{spec.id}.Fmask.tif"
    write_cog(spec.files["Fmask"], fmask, spec.epsg, transform, None, None, nodata=255)
    return spec


def hls_item_dict(spec: SceneSpec, base_url: str) -> dict[str, Any]:
    """The CMR-STAC item of an HLS granule made by :func:`make_hls_scene`: properties only
    ``datetime`` and ``eo:cloud_cover`` (no ``proj:*``), assets keyed by band name with
    "Direct Download" titles and no ``type``, hrefs under ``base_url``."""
    side = SCENE_PX * 30.0
    w, s, e, n = transform_bounds(CRS.from_epsg(spec.epsg), CRS.from_epsg(4326), spec.left, spec.top - side,
                                  spec.left + side, spec.top, densify_pts=21)
    assets = {band: {"href": f"{base_url.rstrip('/')}/{spec.id}/{path.name}", "title": "Direct Download",
                     "roles": ["data"]} for band, path in spec.files.items()}
    return {"type": "Feature", "stac_version": "1.0.0", "id": spec.id, "collection": "HLSS30_2.0",
            "bbox": [w, s, e, n],
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            "properties": {"datetime": spec.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                           "start_datetime": spec.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                           "end_datetime": spec.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                           "eo:cloud_cover": spec.cloud_cover},
            "links": [], "assets": assets}
