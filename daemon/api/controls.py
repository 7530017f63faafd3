"""Operator actions as JSON endpoints (the dashboard's buttons post to them):

- ``GET /api/controls`` — what is paused;
- ``POST /api/controls/downloads/{pause|resume}`` — every download;
- ``POST /api/controls/sources/{name}/{pause|resume}`` — a source's scheduled runs;
- ``POST /api/items/{id}/retry`` — one failed item back in the queue;
- ``POST /api/retry`` (``{"source": …, "code": …}``, both optional) — failed items by
  source and/or error code.

Writes need the bearer token when one is configured and are refused cross-site (the API's
middlewares); forms posted by the dashboard without JavaScript carry ``api_token`` (with a
token) or the CSRF token (without one): :mod:`daemon.web.forms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from daemon.api.params import MAX_ID, bounded_int, path_id, read_json
from daemon.controls import Controls
from daemon.store.web import DOWNLOADS, source_scope


@dataclass
class ControlsContext:
    """``app[CONTROLS]``: the live controls, the configured source names and a wake-up for
    the downloader (retried items)."""

    controls: Controls
    sources: Callable[[], Mapping[str, Any]]
    wake_downloads: Callable[[], None]


CONTROLS: web.AppKey[ControlsContext] = web.AppKey("controls", ControlsContext)


def pausing(request: web.Request) -> bool:
    """The route's ``{action}``: True for pause, False for resume (404 for anything else)."""
    action = request.match_info["action"]
    if action not in ("pause", "resume"):
        raise web.HTTPNotFound(reason=f"no action {action!r} (pause or resume)")
    return action == "pause"


def _by(request: web.Request) -> str:
    return f"api {request.remote or '?'}"


async def get_controls(request: web.Request) -> web.Response:
    """``{"downloads_paused": bool, "paused_sources": [...], "paused": {scope: {paused_at, paused_by}}}``."""
    ctx = request.app[CONTROLS]
    await ctx.controls.refresh()
    return web.json_response({**ctx.controls.summary(), "paused": ctx.controls.paused})


async def post_downloads(request: web.Request) -> web.Response:
    """Pause or resume every download; answers the controls."""
    ctx = request.app[CONTROLS]
    paused = pausing(request)
    changed = await ctx.controls.set(DOWNLOADS, paused, _by(request))
    if not paused:
        ctx.wake_downloads()
    return web.json_response({**ctx.controls.summary(), "changed": changed})


async def post_source(request: web.Request) -> web.Response:
    """Pause or resume one source's scheduled runs (404 for a source not configured)."""
    ctx = request.app[CONTROLS]
    name = request.match_info["name"]
    if name not in ctx.sources():
        raise web.HTTPNotFound(reason=f"no source {name!r}")
    changed = await ctx.controls.set(source_scope(name), pausing(request), _by(request))
    return web.json_response({**ctx.controls.summary(), "changed": changed})


async def post_item_retry(request: web.Request) -> web.Response:
    """One failed item back to the download queue (404 when it is not failed)."""
    ctx = request.app[CONTROLS]
    item_id = path_id(request, "item")
    if not await ctx.controls.store.retry_failed(item_id=item_id):
        raise web.HTTPNotFound(reason=f"no failed item {item_id}")
    ctx.wake_downloads()
    return web.json_response({"retried": 1})


async def post_retry(request: web.Request) -> web.Response:
    """Failed items of ``source`` and/or with error ``code`` back to the queue."""
    ctx = request.app[CONTROLS]
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"source", "code"} or not all(
            isinstance(v, str) for v in body.values()):
        raise web.HTTPBadRequest(reason="the body must be an object with optional 'source' and 'code' strings")
    n = await ctx.controls.store.retry_failed(source=body.get("source"), code=body.get("code"))
    if n:
        ctx.wake_downloads()
    return web.json_response({"retried": n})


def item_id_of(text: str) -> int:
    """A form's item id as an integer (400 otherwise)."""
    return bounded_int(text, "item id", 1, MAX_ID)
