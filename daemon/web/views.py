"""What each dashboard page shows, as JSON-ready dicts: the HTML pages render them and the
JSON endpoints return them, so a script gets exactly what the page shows. Every number comes
from the same store queries as ``harvestd status`` / ``stats`` and ``/api/health``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from daemon.api.health import HEALTH, collect_health
from daemon.controls import Controls
from daemon.library.files import LibraryFiles
from daemon.store import Store
from daemon.web.fits_summary import header_summary
from daemon.web.land import to_xy
from daemon.web.thumbs import Thumbnails

PAGE = 48  # gallery thumbnails per page
SKY_RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
MAX_POINTS = 5000  # map markers at most
MAX_HEADERS = 100  # FITS headers read for one telescope page
FITS_SUFFIXES = (".fit", ".fits", ".fts")


@dataclass
class WebContext:
    """``app[WEB]``: what the pages read. ``sources``: name → kind of the configured sources;
    ``library_root`` / ``data_dir``: the live config's; ``token``: the API token (forms must
    carry it when set); ``tile_url``: an optional map tile URL template for online users."""

    store: Store
    controls: Controls
    sources: Callable[[], Mapping[str, str]]
    library_root: Callable[[], Path]
    thumbs: Thumbnails
    token: Callable[[], str | None]
    tile_url: Callable[[], str | None] = lambda: None
    files: LibraryFiles | None = None  # an S3 library: fetches files this node has no copy of


WEB: web.AppKey[WebContext] = web.AppKey("web", WebContext)


def _age_s(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((now - (then if then.tzinfo else then.replace(tzinfo=UTC))).total_seconds(), 1)


async def overview(app: web.Application) -> dict[str, Any]:
    """One card per source (kind, next run, last run, last success and its age, items by
    status, failures by code and why, paused), the downloader, the worker, the library, the
    event loop: ``/api/overview``."""
    ctx = app[WEB]
    healthy, checks = await collect_health(app[HEALTH])
    counts = await ctx.store.status_counts()
    runs = await ctx.store.last_run_per_source()
    codes = await ctx.store.failure_codes()
    await ctx.controls.refresh()
    now = datetime.now(UTC)
    jobs = checks["scheduler"].get("jobs", {})
    states = checks["sources"].get("sources", {})
    # geo tasks' chips (source geo:N) are the tasks' (queues page), not cards of their own
    stored = {r["source"] for r in counts["items"] if not r["source"].startswith("geo:")}
    names = sorted(set(ctx.sources()) | stored)
    cards = []
    for name in names:
        state = states.get(name, {})
        by_status = {r["status"]: r["n"] for r in counts["items"] if r["source"] == name}
        cards.append({
            "name": name, "kind": ctx.sources().get(name, "-"), "configured": name in ctx.sources(),
            "next_run": jobs.get(f"source:{name}", jobs.get(name)),
            "paused": ctx.controls.source_paused(name),
            "last_run": runs.get(name), "state": state.get("state", "ok" if not by_status else "unknown"),
            "ok": state.get("ok", True), "reason": state.get("reason"),
            "last_success_at": state.get("last_success_at"),
            "last_success_age_s": _age_s(state.get("last_success_at"), now),
            "last_error_code": state.get("last_error_code"), "last_error": state.get("last_error"),
            "retrying": state.get("retrying", 0), "next_attempt_at": state.get("next_attempt_at"),
            "items": by_status, "items_total": sum(by_status.values()),
            "failures": {r["code"]: r["n"] for r in codes if r["source"] == name},
        })
    backlog: dict[str, int] = {}
    for r in counts["results"]:
        if r["status"] in ("pending", "processing"):
            backlog[r["processor"]] = backlog.get(r["processor"], 0) + r["n"]
    transfers = await ctx.store.transfers(20)
    return {"status": "unhealthy" if not healthy else "degraded" if any(not c["ok"] for c in cards) else "ok",
            "generated_at": now.isoformat(timespec="seconds"), "sources": cards,
            "downloader": {**checks["downloader"], "paused": ctx.controls.downloads_paused,
                           "restarts": int(getattr(app[HEALTH].downloader, "restarts", 0)),
                           "transfers": transfers},
            "worker": {**checks["worker"], "backlog": backlog, **_throughput(app[HEALTH].worker)},
            "library": checks["library"], "event_loop": checks["event_loop"],
            "controls": ctx.controls.summary(), "counts": counts}


def _throughput(worker: Any) -> dict[str, Any]:
    """Results this process completed and their rate per minute since it started."""
    processed = int(getattr(worker, "processed", 0))
    minutes = max(1.0, (time.monotonic() - float(getattr(worker, "started_s", time.monotonic()))) / 60.0)
    return {"processed": processed, "per_minute": round(processed / minutes, 2)}


def _bound(text: str | None) -> str | None:
    """A date or time filter as UTC ISO text (a date alone: its start), None when empty.
    Raises HTTPBadRequest for text that is neither."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"not a date or time: {text[:40]!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


async def gallery(app: web.Application, source: str, status: str | None, since: str | None,
                  until: str | None, page: int) -> dict[str, Any]:
    """A page of ``source``'s items, newest first: ``/api/gallery/{source}``."""
    ctx = app[WEB]
    rows, total = await ctx.store.gallery(source, status or None, _bound(since), _bound(until), PAGE,
                                          (page - 1) * PAGE)
    return {"source": source, "status": status or "", "since": since or "", "until": until or "", "page": page,
            "pages": max(1, -(-total // PAGE)), "total": total, "items": rows}


async def sky(app: web.Application, source: str, span: str, end: datetime | None = None) -> dict[str, Any]:
    """Cloud fraction and octas of ``source`` over the last day / week / month (night
    periods as intervals, no point at night): ``/api/sky/{source}``."""
    ctx = app[WEB]
    if span not in SKY_RANGES:
        raise web.HTTPBadRequest(reason=f"range must be one of {', '.join(SKY_RANGES)}")
    last = await ctx.store.newest_capture(source)
    newest = end or (datetime.fromisoformat(last) if last else datetime.now(UTC))
    start = newest - SKY_RANGES[span]
    rows = await ctx.store.sky_series(source, start.isoformat(), newest.isoformat())
    points = [{"t": r["captured_at"], "octas": r["octas"], "cloud_fraction": r["cloud_fraction"],
               "item": r["id"]} for r in rows if r["condition"] == "day" and r["octas"] is not None]
    nights, current = [], None
    for r in rows:
        if r["condition"] == "night":
            current = current or [r["captured_at"], r["captured_at"]]
            current[1] = r["captured_at"]
        elif current:
            nights.append(current)
            current = None
    if current:
        nights.append(current)
    latest = rows[-1]["id"] if rows else None
    return {"source": source, "range": span, "from": start.isoformat(), "to": newest.isoformat(),
            "points": points, "nights": nights, "latest_item": latest, "images": len(rows)}


async def iss_map(app: web.Application, source: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Photo centre (and nadir) points of ``source`` with map positions: ``/api/iss/{source}``."""
    ctx = app[WEB]
    cloud = query.get("max_cloud") or ""
    try:
        max_cloud = float(cloud) if cloud else None
    except ValueError:
        raise web.HTTPBadRequest(reason=f"max_cloud must be a number: {cloud[:20]!r}") from None
    rows = await ctx.store.iss_points(source, query.get("mission"), query.get("since"), query.get("until"),
                                      query.get("camera"), max_cloud, MAX_POINTS)
    photos = []
    for r in rows:
        if r["lat"] is None or r["lon"] is None:
            continue
        x, y = to_xy(float(r["lon"]), float(r["lat"]))
        nadir = (to_xy(float(r["nadir_lon"]), float(r["nadir_lat"]))
                 if r["nadir_lat"] is not None and r["nadir_lon"] is not None else None)
        photos.append({**r, "x": x, "y": y, "nadir_xy": nadir})
    return {"source": source, "filters": {k: query.get(k, "") for k in ("mission", "since", "until", "camera",
                                                                          "max_cloud")},
            "photos": photos, "missions": sorted({r["mission"] for r in rows if r["mission"]})}


async def telescope(app: web.Application, source: str, obj: str | None) -> dict[str, Any]:
    """Counts by object × telescope × format, and one object's frames: ``/api/telescope/{source}``."""
    ctx = app[WEB]
    counts = await ctx.store.telescope_counts(source)
    items = await ctx.store.items_of_object(source, obj, 200) if obj else []
    root = ctx.library_root()
    fits_items = [it for it in items if str(it["path"] or "").lower().endswith(FITS_SUFFIXES)][:MAX_HEADERS]
    headers = await asyncio.gather(*(asyncio.to_thread(header_summary, root / it["path"]) for it in fits_items))
    for item, header in zip(fits_items, headers, strict=True):
        item["fits_header"] = header
    return {"source": source, "counts": counts, "object": obj or "", "items": items}


async def queues(app: web.Application, source: str | None, code: str | None) -> dict[str, Any]:
    """Items and results per status, failed items with reasons, tasks: ``/api/queues``."""
    ctx = app[WEB]
    tasks, total = await ctx.store.list_tasks(20, 0)
    return {"counts": await ctx.store.status_counts(), "codes": await ctx.store.failure_codes(),
            "failed": await ctx.store.failed_list(source or None, code or None, 100),
            "tasks": tasks, "tasks_total": total, "source": source or "", "code": code or ""}
