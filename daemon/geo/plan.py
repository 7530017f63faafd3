"""The plan of a geo task: one STAC search per bbox, then for every chip cell and step the
scene it is read from (or none: the step is missing there). Stored once with the task, so a
restart neither searches again nor chooses differently.

Plan (JSON): ``scenes`` (id → :meth:`Scene.as_plan`), ``bboxes`` (index, bbox, grid, scenes
found), ``chips`` (key ``b{bbox}/{date}/r{row}c{col}``, bbox, date, row, col, scene id or
None, library path), ``searches``, ``skipped_items`` (items that could not be used, why).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import structlog
from shapely.geometry import Polygon

from daemon.geo.bands import DATA_SOURCES, DataSource
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.geo.grid import ChipGrid, chip_grid
from daemon.geo.request import GeoRequest
from daemon.geo.stac import Scene, StacError, choose_scene, search, search_body, to_scene
from daemon.http import HttpClient

log = structlog.get_logger("daemon.geo")


def library_file(kind: str, task_id: int, box: int, grid: ChipGrid, row: int, col: int) -> str:
    """``geo/{task}/{bbox}/{kind}.tif`` (``{kind}_r{row}c{col}.tif`` in a grid of chips),
    relative to the library root; ``kind`` is a step's date or the model's name."""
    cell = "" if grid.rows == grid.cols == 1 else f"_r{row}c{col}"
    return f"geo/{task_id}/{box}/{kind}{cell}.tif"


def _scenes(raw_items: Sequence[dict[str, Any]], bands: Sequence[str], source: DataSource,
            skipped: list[str]) -> list[Scene]:
    scenes = []
    for raw in raw_items:
        try:
            scenes.append(to_scene(raw, bands, source))
        except StacError as exc:
            skipped.append(str(exc))
    return scenes


def _choose(task_id: int, index: int, grid: ChipGrid, scenes: Sequence[Scene], steps: Sequence[date],
            req: GeoRequest) -> list[tuple[dict[str, Any], Scene | None]]:
    """Every (chip, scene) of one bbox; the newest step chooses first, a scene serves one
    step per chip. Blocking (geometry): run in a thread."""
    out: list[tuple[dict[str, Any], Scene | None]] = []
    for row, col in grid.cells():
        footprint = Polygon(grid.footprint(row, col))
        taken: set[str] = set()
        for step in reversed(steps):
            scene = choose_scene(scenes, step, req.temporal_tolerance, req.cloud_coverage, footprint, taken)
            if scene is not None:
                taken.add(scene.id)
            day = step.isoformat()
            out.append(({"key": f"b{index}/{day}/r{row}c{col}", "bbox": index, "date": day, "row": row,
                         "col": col, "scene": scene.id if scene else None,
                         "path": library_file(day, task_id, index, grid, row, col)}, scene))
    return out


async def make_plan(http: HttpClient, task_id: int, req: GeoRequest, settings: GeoSettings,
                    models: Mapping[str, GeoModelSettings]) -> dict[str, Any]:
    """Search and choose (see the module doc).

    Raises:
        HttpError: a search failed after retries (the task fails with the reason).
        StacError: an answer was not a search result.
    """
    source = DATA_SOURCES[req.data_source]
    bands = req.bands(models)
    steps = req.step_dates()
    tol = timedelta(days=req.temporal_tolerance)
    hls = req.data_source == "HLS"
    url = settings.hls_stac_url if hls else settings.stac_url
    collections = settings.hls_collections if hls else [settings.collection]
    plan: dict[str, Any] = {"scenes": {}, "bboxes": [], "chips": [], "searches": 0, "skipped_items": []}
    for i, box in enumerate(req.bboxes):
        grid = await asyncio.to_thread(chip_grid, box, req.chip_size, source.resolution_m)
        body = search_body(collections, box, steps[0] - tol, steps[-1] + tol, req.cloud_coverage,
                           settings.search_limit, cmr=hls)
        raw_items = await search(http, url, body)
        plan["searches"] += 1
        skipped: list[str] = []
        scenes = await asyncio.to_thread(_scenes, raw_items, bands, source, skipped)
        for reason in skipped:
            log.warning("stac_item_skipped", bbox=i, reason=reason)
        plan["skipped_items"] += skipped
        for chip, scene in await asyncio.to_thread(_choose, task_id, i, grid, scenes, steps, req):
            plan["chips"].append(chip)
            if scene is not None:
                plan["scenes"][scene.id] = scene.as_plan()
        plan["bboxes"].append({"index": i, "bbox": list(box), "grid": vars(grid), "found": len(scenes)})
        log.info("geo_search", bbox=i, items=len(raw_items), usable=len(scenes))
    plan["chips"].sort(key=lambda c: (c["bbox"], c["date"], c["row"], c["col"]))
    return plan
