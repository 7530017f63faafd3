"""Chip grids: a WGS84 bounding box → ``chip_size``-pixel chips in a UTM CRS.

The grid's CRS is the UTM zone of the bbox centre (EPSG 326zz north, 327zz south: the CRS
of the Sentinel-2 MGRS tiles there); pixels are ``resolution_m`` (S2: 10 m) with the origin
on a multiple of the pixel size, as the S2 tile grids are (``stac_sentinel2.md`` §2), so a
chip of a scene in that zone is read pixel for pixel, without resampling. The bbox's
projected bounds (densified: a WGS84 box is curved in UTM) are covered by ``rows × cols``
chips centred on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.warp import transform, transform_bounds

WGS84 = CRS.from_epsg(4326)
KM2_PER_DEG2_AT_EQUATOR = 111.32 * 110.57  # 1° lon × 1° lat at the equator, km²


def utm_epsg(lon: float, lat: float) -> int:
    """The EPSG code of the UTM zone holding (lon, lat) in degrees: 326zz / 327zz.

    The Norway/Svalbard exceptions of the MGRS grid are not applied (a chip there is read
    through a warp from the scene's own zone)."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


def bbox_area_km2(bbox: tuple[float, float, float, float]) -> float:
    """Approximate area of a WGS84 bbox (min lon, min lat, max lon, max lat) in km²: the
    degree box scaled by the cosine of its middle latitude (good to a few % below 60°)."""
    w, s, e, n = bbox
    return (e - w) * (n - s) * KM2_PER_DEG2_AT_EQUATOR * math.cos(math.radians((s + n) / 2.0))


@dataclass(frozen=True)
class ChipGrid:
    """``rows × cols`` chips of ``size`` pixels of ``resolution_m`` metres in ``epsg``;
    ``left``, ``top``: the grid's upper-left corner in metres."""

    epsg: int
    resolution_m: float
    size: int
    left: float
    top: float
    rows: int
    cols: int

    @property
    def chip_m(self) -> float:
        """The side of one chip, metres."""
        return self.size * self.resolution_m

    def transform(self, row: int, col: int) -> Affine:
        """The affine transform of chip (row, col) (north up)."""
        return Affine(self.resolution_m, 0.0, self.left + col * self.chip_m,
                      0.0, -self.resolution_m, self.top - row * self.chip_m)

    def bounds(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of chip (row, col) in the grid's CRS, metres."""
        left, top = self.left + col * self.chip_m, self.top - row * self.chip_m
        return left, top - self.chip_m, left + self.chip_m, top

    def footprint(self, row: int, col: int, points: int = 8) -> list[tuple[float, float]]:
        """The chip's outline in WGS84 (lon, lat), ``points`` per side (a ring, closed)."""
        left, bottom, right, top = self.bounds(row, col)
        w, h = right - left, top - bottom
        steps = [i / points for i in range(points)]
        pts = ([(left + f * w, top) for f in steps] + [(right, top - f * h) for f in steps]
               + [(right - f * w, bottom) for f in steps] + [(left, bottom + f * h) for f in steps])
        lons, lats = transform(CRS.from_epsg(self.epsg), WGS84, [p[0] for p in pts], [p[1] for p in pts])
        ring = list(zip(lons, lats, strict=True))
        return [*ring, ring[0]]

    def cells(self) -> list[tuple[int, int]]:
        """Every (row, col), row-major."""
        return [(r, c) for r in range(self.rows) for c in range(self.cols)]


def chip_grid(bbox: tuple[float, float, float, float], size: int, resolution_m: float) -> ChipGrid:
    """The grid of ``size``-pixel chips covering ``bbox`` (WGS84 min lon, min lat, max lon,
    max lat) in the UTM zone of its centre.

    Raises:
        ValueError: the bbox is empty or inverted.
    """
    w, s, e, n = bbox
    if not (w < e and s < n):
        raise ValueError(f"empty bbox {bbox}")
    epsg = utm_epsg((w + e) / 2.0, (s + n) / 2.0)
    left, bottom, right, top = transform_bounds(WGS84, CRS.from_epsg(epsg), w, s, e, n, densify_pts=21)
    chip_m = size * resolution_m
    cols = max(1, math.ceil((right - left) / chip_m - 1e-9))
    rows = max(1, math.ceil((top - bottom) / chip_m - 1e-9))
    cx, cy = (left + right) / 2.0, (bottom + top) / 2.0
    grid_left = round((cx - cols * chip_m / 2.0) / resolution_m) * resolution_m
    grid_top = round((cy + rows * chip_m / 2.0) / resolution_m) * resolution_m
    return ChipGrid(epsg, resolution_m, size, grid_left, grid_top, rows, cols)
