"""The world map's land: Natural Earth 1:110m land (public domain) as TopoJSON from the
world-atlas package (ISC licence, ``data/world-atlas.LICENSE.txt``), drawn as one SVG path
in the Web Mercator projection (EPSG:3857, the projection of XYZ map tiles, so an online tile
layer lines up): a ``SIZE`` × ``SIZE`` view box, latitudes clamped to ±85.0511°; a ring
across the antimeridian is drawn twice, shifted by 360°, and clipped by the view box.

TopoJSON decoding follows the specification (github.com/topojson/topojson-specification
§2.1.2 quantized arcs: delta-encoded integers, ``transform`` scale and translate; §2.2.1 arc
indexes, a negative index ``~i`` is arc ``i`` reversed).
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

SIZE = 360.0  # the map's view box is SIZE × SIZE
MAX_LAT = 85.0511287798  # Web Mercator's limit: the tile pyramid's square world
TILE_ZOOM = 2  # 4 × 4 tiles when a tile URL is configured


def _arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    sx, sy = topology["transform"]["scale"]
    tx, ty = topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        out.append(points)
    return out


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    ring: list[tuple[float, float]] = []
    for i in indexes:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(points[1:] if ring else points)
    return ring


def _unwrapped(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Longitudes made continuous (a step of more than 180° goes the short way round)."""
    out = ring[:1]
    for lon, lat in ring[1:]:
        prev = out[-1][0]
        while lon - prev > 180:
            lon -= 360
        while prev - lon > 180:
            lon += 360
        out.append((lon, lat))
    return out


@cache
def land_path() -> str:
    """The SVG path data (``M…Z`` per ring, 0.1° precision) of every land polygon."""
    topology = json.loads((resources.files("daemon.web") / "data" / "land-110m.json").read_text("utf-8"))
    arcs = _arcs(topology)
    parts = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring_arcs in polygon:
                ring = _unwrapped(_ring(ring_arcs, arcs))
                lons = [lon for lon, _lat in ring]
                shifts = [0.0] + ([360.0] if min(lons) < -180 else []) + ([-360.0] if max(lons) > 180 else [])
                for shift in shifts:  # a ring across the antimeridian is drawn on both sides (clipped)
                    points = (to_xy(lon + shift, lat) for lon, lat in ring)
                    parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
    return "".join(parts)


def to_xy(lon: float, lat: float) -> tuple[float, float]:
    """A point's position on the map, Web Mercator in view-box units (as :func:`land_path`):
    x = (lon + 180) / 360 · SIZE, y = (1 − ln(tan φ + sec φ) / π) / 2 · SIZE."""
    phi = math.radians(max(-MAX_LAT, min(MAX_LAT, lat)))
    x = (lon + 180.0) / 360.0 * SIZE
    y = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * SIZE
    return round(x, 3), round(y, 3)


def tiles(url_template: str, zoom: int = TILE_ZOOM) -> list[tuple[str, float, float, float]]:
    """The XYZ tiles covering the world at ``zoom``: (URL, x, y, side) in view-box units,
    the URL from a ``{z}/{x}/{y}`` template."""
    n = 2 ** zoom
    side = SIZE / n
    return [(url_template.replace("{z}", str(zoom)).replace("{x}", str(tx)).replace("{y}", str(ty)),
             tx * side, ty * side, side) for ty in range(n) for tx in range(n)]
