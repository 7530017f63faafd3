"""The dashboard on the API's listener: pages at ``/``, assets at ``/static/``, form actions
at ``/ui/``, page data as JSON under ``/api/``. Jinja2 templates (autoescaped) from the
package; nothing is fetched from the internet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from daemon.web import actions, json_api, pages
from daemon.web.assets import Assets
from daemon.web.views import WEB, WebContext


def _age(seconds: Any) -> str:
    """``93`` → ``"1 min"``; None → ``"never"``."""
    if seconds is None:
        return "never"
    s = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(s) >= size:
            return f"{s / size:.0f} {unit}"
    return f"{s:.0f} s"


def _when(iso: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM UTC`` (or ``—``)."""
    if not iso:
        return "—"
    try:
        t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    return (t.astimezone(UTC) if t.tzinfo else t).strftime("%Y-%m-%d %H:%M UTC")


def setup_web(app: web.Application, ctx: WebContext) -> None:
    """Add the dashboard's routes and template engine to the API ``app``."""
    assets = Assets()
    env = aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("daemon.web", "templates"),
                               autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    env.globals["static"] = assets.url
    env.filters["age"] = _age
    env.filters["when"] = _when
    app[WEB] = ctx
    r = app.router
    r.add_get("/static/{hash}/{name}", assets.handle)
    r.add_get("/", pages.overview_page)
    r.add_get("/gallery/{source}", pages.gallery_page)
    r.add_get("/items/{id}", pages.item_page)
    r.add_get("/files/{id}", pages.file_handler)
    r.add_get("/thumbs/{id}.jpg", pages.thumb_handler)
    r.add_get("/items/{id}/results/{result}/preview", pages.result_preview)
    r.add_get("/sky/{source}", pages.sky_page)
    r.add_get("/map/{source}", pages.map_page)
    r.add_get("/telescope/{source}", pages.telescope_page)
    r.add_get("/uploads", pages.uploads_page)
    r.add_get("/queues", pages.queues_page)
    r.add_post("/ui/sources/{name}/{action}", actions.source_action)
    r.add_post("/ui/downloads/{action}", actions.downloads_action)
    r.add_post("/ui/retry", actions.retry_action)
    r.add_post("/ui/tasks", actions.task_action)
    r.add_get("/api/overview", json_api.get_overview)
    r.add_get("/api/gallery/{source}", json_api.get_gallery)
    r.add_get("/api/sky/{source}", json_api.get_sky)
    r.add_get("/api/iss/{source}", json_api.get_iss)
    r.add_get("/api/telescope/{source}", json_api.get_telescope)
    r.add_get("/api/queues", json_api.get_queues)
