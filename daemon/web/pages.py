"""The dashboard's pages (server-rendered HTML, Jinja2 through aiohttp-jinja2) and the files
they show: thumbnails and library originals. Each page's data is :mod:`daemon.web.views`'s,
also served as JSON (:mod:`daemon.web.json_api`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from daemon.api.params import MAX_ID, bounded_int, path_id, query_int
from daemon.library.objects import ObjectStoreError
from daemon.library.paths import LayoutError
from daemon.web import views
from daemon.web.forms import csrf_token, set_csrf
from daemon.web.land import SIZE, land_path, tiles
from daemon.web.views import WEB, WebContext

STATUSES = ("discovered", "downloading", "downloaded", "uploaded", "processing", "processed", "failed")


def _source(request: web.Request, kinds: tuple[str, ...] | None = None) -> str:
    name = request.match_info["source"]
    kind = request.app[WEB].sources().get(name)
    if kind is None or (kinds is not None and kind not in kinds):
        what = f"{' or '.join(kinds)} source" if kinds else "source"
        raise web.HTTPNotFound(reason=f"no {what} {name!r}")
    return name


# a file from the library is shown, never run: no script, no form, no plugin in its document
FILE_POLICY = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def page_policy(tile_url: str | None) -> str:
    """The dashboard pages' Content-Security-Policy: scripts, styles and images from the
    daemon only (and a configured tile server's images), forms posting to it only."""
    tiles = " " + "/".join(tile_url.split("/", 3)[:3]) if tile_url else ""
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:{tiles}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'")


def _render(request: web.Request, template: str, page: dict[str, Any]) -> web.Response:
    ctx = request.app[WEB]
    csrf, new = csrf_token(request)
    common = {"sources": ctx.sources(), "token_required": bool(ctx.token()), "csrf": csrf,
              "path": request.path_qs, "nav": template.removesuffix(".html")}
    response = aiohttp_jinja2.render_template(template, request, {**common, **page})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = page_policy(ctx.tile_url())
    response.headers["X-Content-Type-Options"] = "nosniff"
    if new:
        set_csrf(response, csrf)
    return response


async def overview_page(request: web.Request) -> web.Response:
    """``/``: one card per source, downloader, worker, library, event loop (live)."""
    return _render(request, "overview.html", {"o": await views.overview(request.app)})


async def gallery_page(request: web.Request) -> web.Response:
    """``/gallery/{source}``: thumbnails newest first, filtered by status and date, paged."""
    source = _source(request)
    status = request.query.get("status", "")
    if status and status not in STATUSES:
        raise web.HTTPBadRequest(reason=f"status must be one of {', '.join(STATUSES)}")
    page = query_int(request, "page", 1, 1, 1_000_000)
    data = await views.gallery(request.app, source, status, request.query.get("since"),
                               request.query.get("until"), page)
    return _render(request, "gallery.html", {"g": data, "statuses": STATUSES})


async def item_page(request: web.Request) -> web.Response:
    """``/items/{id}``: the image, its metadata, its results, links to it and its companions."""
    ctx = request.app[WEB]
    item_id = path_id(request, "item")
    item = await ctx.store.item_with_results(item_id)
    if item is None:
        raise web.HTTPNotFound(reason=f"no item {item_id}")
    companions = await ctx.store.companions(item["source"], item["key"])
    return _render(request, "item.html", {"item": item, "companions": companions})


async def sky_page(request: web.Request) -> web.Response:
    """``/sky/{source}``: octas and cloud fraction over time, nights shaded, the latest image."""
    source = _source(request, ("skycam",))
    data = await views.sky(request.app, source, request.query.get("range", "day"))
    return _render(request, "sky.html", {"s": data, "ranges": list(views.SKY_RANGES)})


async def map_page(request: web.Request) -> web.Response:
    """``/map/{source}``: ISS photo centre points on the bundled Natural Earth land outline."""
    source = _source(request, ("nasa_iss",))
    data = await views.iss_map(request.app, source, request.query)
    url = request.app[WEB].tile_url()
    land = await asyncio.to_thread(land_path)  # decoded once (cached); never on the loop
    return _render(request, "map.html", {"m": data, "land": land, "size": SIZE,
                                         "nadir": request.query.get("nadir") == "1",
                                         "tile_url": url, "tiles": tiles(url) if url else []})


async def telescope_page(request: web.Request) -> web.Response:
    """``/telescope/{source}``: counts by object × telescope × format, one object's frames."""
    source = _source(request, ("slooh",))
    data = await views.telescope(request.app, source, request.query.get("object"))
    return _render(request, "telescope.html", {"t": data})


async def uploads_page(request: web.Request) -> web.Response:
    """``/uploads``: the drag-and-drop form and the uploads with their status and results."""
    ctx = request.app[WEB]
    rows, total = await ctx.store.gallery("uploads", None, None, None, views.PAGE, 0)
    return _render(request, "uploads.html", {"uploads": rows, "total": total})


async def queues_page(request: web.Request) -> web.Response:
    """``/queues``: items and results per status, failed items with retry, tasks and forms."""
    data = await views.queues(request.app, request.query.get("source"), request.query.get("code"))
    return _render(request, "queues.html", {"q": data})


def file_inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` resolved, when it is an existing file inside ``root`` (symlinks and
    ``..`` followed first); None otherwise. Blocking (a NAS can stall): call it in a thread."""
    base = root.resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


async def _library_file(request: web.Request, item_id: int) -> tuple[Path, dict[str, Any]]:
    """The item's file (never a path outside the library) and the item with its results."""
    ctx = request.app[WEB]
    item = await ctx.store.item_with_results(item_id)
    if item is None or not item.get("path") or item["status"] == "failed":
        raise web.HTTPNotFound(reason=f"no file for item {item_id}")
    await _fetch_copy(ctx, item["path"])
    path = await asyncio.to_thread(file_inside, ctx.library_root(), item["path"])
    if path is None:
        raise web.HTTPNotFound(reason=f"no file for item {item_id}")
    return path, item


async def _fetch_copy(ctx: WebContext, relative: str) -> None:
    """An S3 library: bring ``relative`` into this node's working copy (no-op otherwise)."""
    if ctx.files is None or ctx.files.objects is None:
        return
    try:
        await ctx.files.local(relative)
    except (FileNotFoundError, LayoutError):
        raise web.HTTPNotFound(reason="not in the library") from None
    except ObjectStoreError as exc:
        raise web.HTTPServiceUnavailable(reason="the library's bucket cannot be read now",
                                         headers={"Retry-After": "30"}) from exc


async def file_handler(request: web.Request) -> web.StreamResponse:
    """``/files/{id}``: the item's file from the library (``ETag``, ``Range``, conditional
    requests by aiohttp's FileResponse), only inside the library root."""
    path, _item = await _library_file(request, path_id(request, "item"))
    response = web.FileResponse(path, headers={"Cache-Control": "private, max-age=300",
                                               "X-Content-Type-Options": "nosniff",
                                               "Content-Security-Policy": FILE_POLICY})
    if request.query.get("download") == "1":
        response.headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return response


async def result_preview(request: web.Request) -> web.StreamResponse:
    """``/items/{id}/results/{result}/preview``: the colour-mapped index PNG a processor wrote
    beside the item's file (``output.files.preview``), only from inside the library root."""
    item_id = path_id(request, "item")
    result_id = bounded_int(request.match_info["result"], "result id", 1, MAX_ID)
    _original, item = await _library_file(request, item_id)
    result = next((r for r in item["results"] if r["id"] == result_id), None)
    name = ((result or {}).get("output") or {}).get("files", {}).get("preview")
    path = None
    if isinstance(name, str) and "/" not in name and "\\" not in name:  # a name beside the item's file
        beside = str(Path(item["path"]).parent / name)
        await _fetch_copy(request.app[WEB], beside)
        path = await asyncio.to_thread(file_inside, request.app[WEB].library_root(), beside)
    if path is None:
        raise web.HTTPNotFound(reason=f"result {result_id} of item {item_id} has no preview")
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=300",
                                           "X-Content-Type-Options": "nosniff",
                                           "Content-Security-Policy": FILE_POLICY})


NO_PREVIEW = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
              '<rect width="320" height="240" fill="#888" fill-opacity="0.15"/><text x="160" y="126" '
              'font-family="sans-serif" font-size="20" text-anchor="middle" fill="#888">{label}</text></svg>')


async def thumb_handler(request: web.Request) -> web.StreamResponse:
    """``/thumbs/{id}.jpg``: the cached thumbnail (made on first request); a file that is not
    an image (FITS, a camera text file, a multi-band GeoTIFF) gets a labelled placeholder."""
    item_id = path_id(request, "item")
    path, _item = await _library_file(request, item_id)
    thumb = await request.app[WEB].thumbs.get(item_id, path)
    if thumb is None:
        label = (path.suffix.lstrip(".").upper() or "file")[:8]
        return web.Response(text=NO_PREVIEW.format(label=label), content_type="image/svg+xml",
                            headers={"Cache-Control": "private, max-age=86400"})
    return web.FileResponse(thumb, headers={"Cache-Control": "private, max-age=86400"})
