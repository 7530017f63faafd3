"""The JSON behind each dashboard page (documented in the OpenAPI document): a script gets
the same data the page shows."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from daemon.api.params import query_int
from daemon.web import views
from daemon.web.pages import STATUSES, _source


async def get_overview(request: web.Request) -> web.Response:
    """``GET /api/overview``: sources, downloader, worker, library, event loop, controls."""
    return web.json_response(await views.overview(request.app))


async def get_gallery(request: web.Request) -> web.Response:
    """``GET /api/gallery/{source}?status=&since=&until=&page=``: one page, newest first."""
    source = _source(request)
    status = request.query.get("status", "")
    if status and status not in STATUSES:
        raise web.HTTPBadRequest(reason=f"status must be one of {', '.join(STATUSES)}")
    return web.json_response(await views.gallery(request.app, source, status, request.query.get("since"),
                                                 request.query.get("until"),
                                                 query_int(request, "page", 1, 1, 1_000_000)))


async def get_sky(request: web.Request) -> web.Response:
    """``GET /api/sky/{source}?range=day|week|month[&format=csv]``: the octas series."""
    source = _source(request, ("skycam",))
    data = await views.sky(request.app, source, request.query.get("range", "day"))
    if request.query.get("format") != "csv":
        return web.json_response(data)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["captured_at_utc", "octas", "cloud_fraction", "item_id"])
    for p in data["points"]:
        writer.writerow([p["t"], p["octas"], p["cloud_fraction"], p["item"]])
    return web.Response(text=out.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{source}-octas-{data["range"]}.csv"'})


async def get_iss(request: web.Request) -> web.Response:
    """``GET /api/iss/{source}?mission=&since=&until=&camera=&max_cloud=``: photo points."""
    return web.json_response(await views.iss_map(request.app, _source(request, ("nasa_iss",)), request.query))


async def get_telescope(request: web.Request) -> web.Response:
    """``GET /api/telescope/{source}?object=``: counts by object × telescope × format."""
    return web.json_response(await views.telescope(request.app, _source(request, ("slooh",)),
                                                   request.query.get("object")))


async def get_queues(request: web.Request) -> web.Response:
    """``GET /api/queues?source=&code=``: counts, failure codes, failed items, tasks."""
    return web.json_response(await views.queues(request.app, request.query.get("source"),
                                                request.query.get("code")))
