"""The ``detail`` of a geo task: per-stage counts, per-bbox and per-step progress and errors,
computed from the task's plan and its recorded items (so it is always what the store holds).

Step status: ``pending`` (chips still to read), ``done`` (every chip of the step read),
``partial`` (some read, some missing or failed), ``missing`` (no scene within the tolerance
and the cloud limit), ``failed`` (every planned chip failed to read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.store.geo import GeoItem

# a chip on disk is recorded ``downloaded``; the daemon's start-up settling may later mark an
# item whose results are all done (it has none) ``processed``: both mean the file is there
CHIP_ON_DISK = ("downloaded", "processed")


def _step_status(s: Mapping[str, Any]) -> str:
    if s["pending"]:
        return "pending"
    if s["done"] == s["chips"]:
        return "done"
    if s["done"]:
        return "partial"
    return "missing" if s["missing"] == s["chips"] else "failed"


def summarize(plan: Mapping[str, Any], items: Mapping[str, GeoItem], req: Any) -> dict[str, Any]:
    """``{"stages": {...}, "bboxes": [...], "why_no_chips": str | None}`` (JSON-ready)."""
    boxes: list[dict[str, Any]] = []
    for box in plan["bboxes"]:
        grid = box["grid"]
        boxes.append({"index": box["index"], "bbox": box["bbox"], "epsg": grid["epsg"],
                      "chips_per_step": grid["rows"] * grid["cols"], "scenes_found": box["found"],
                      "steps": {}, "predictions": []})
    dp = {"total": 0, "done": 0, "missing": 0, "failed": 0, "searches": plan["searches"]}
    for chip in plan["chips"]:
        step = boxes[chip["bbox"]]["steps"].setdefault(chip["date"], {
            "date": chip["date"], "chips": 0, "done": 0, "missing": 0, "failed": 0, "pending": 0,
            "scenes": [], "errors": []})
        step["chips"] += 1
        if chip["scene"] is None:
            step["missing"] += 1
            dp["missing"] += 1
            continue
        dp["total"] += 1
        if chip["scene"] not in step["scenes"]:
            step["scenes"].append(chip["scene"])
        item = items.get(chip["key"])
        if item is None:
            step["pending"] += 1
        elif item.status == "failed":
            step["failed"] += 1
            dp["failed"] += 1
            step["errors"].append({"chip": chip["key"], "error": item.error})
        else:
            step["done"] += 1
            dp["done"] += 1
    scenes = plan["scenes"]
    for box in boxes:
        steps = sorted(box["steps"].values(), key=lambda s: s["date"])
        for s in steps:
            s["status"] = _step_status(s)
            s["cloud_cover"] = [scenes[i]["cloud_cover"] for i in s["scenes"]]
        box["steps"] = steps
    mp = {"total": 0, "done": 0, "failed": 0}
    cells = {(c["bbox"], c["row"], c["col"]) for c in plan["chips"]
             if (it := items.get(c["key"])) is not None and it.status in CHIP_ON_DISK}
    for bbox, row, col in sorted(cells):
        mp["total"] += 1
        item = items.get(f"b{bbox}/{req.model_type}/r{row}c{col}")
        entry: dict[str, Any] = {"cell": f"r{row}c{col}", "status": item.status if item else "pending"}
        if item is not None and item.status == "processed":
            mp["done"] += 1
            entry.update(path=item.path, preview=item.metadata.get("preview"),
                         newest=item.metadata.get("newest"))
        elif item is not None:
            mp["failed"] += 1
            entry["error"] = item.error
        boxes[bbox]["predictions"].append(entry)
    why = None
    if dp["done"] == 0:
        why = ("no scene within the date tolerance and the cloud limit for any step"
               if dp["total"] == 0 else "no chip could be read (see detail.bboxes[].steps[].errors)")
    return {"stages": {"data_processing": dp, "model_prediction": mp}, "bboxes": boxes, "why_no_chips": why,
            "skipped_items": plan.get("skipped_items", [])[:20]}
