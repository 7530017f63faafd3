"""The world map's land: Natural Earth 1:110m land (public domain) as TopoJSON from the
world-atlas package (ISC licence, ``data/world-atlas.LICENSE.txt``), drawn as one SVG path
in an equirectangular projection (x = lon + 180, y = 90 − lat, degrees: a 360 × 180 view box);
a ring across the antimeridian is drawn twice, shifted by 360°, and clipped by the view box.

TopoJSON decoding follows the specification (github.com/topojson/topojson-specification
§2.1.2 quantized arcs: delta-encoded integers, ``transform`` scale and translate; §2.2.1 arc
indexes, a negative index ``~i`` is arc ``i`` reversed).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


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
                    parts.append("M" + "L".join(f"{lon + shift + 180:.1f},{90 - lat:.1f}" for lon, lat in ring)
                                 + "Z")
    return "".join(parts)


def to_xy(lon: float, lat: float) -> tuple[float, float]:
    """A point's position on the map (the same projection as :func:`land_path`)."""
    return round(lon + 180.0, 3), round(90.0 - lat, 3)
