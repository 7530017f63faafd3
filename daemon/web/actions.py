"""The dashboard's actions as form posts (``POST /ui/…``, answered 303 back to the page):
pause / resume a source or the downloads, retry failed items, start a task. Each checks the
API token or the CSRF token (:mod:`daemon.web.forms`) and does what the JSON endpoint of
:mod:`daemon.api.controls` / ``POST /api/tasks`` does."""

from __future__ import annotations

from aiohttp import web

from daemon.api.controls import pausing
from daemon.api.tasks import TASKS
from daemon.errors import InputError
from daemon.store.web import DOWNLOADS, source_scope
from daemon.tasks import check_task
from daemon.web.forms import back_to, check_form
from daemon.web.views import WEB

MAX_FORM_BYTES = 16 << 10


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length)
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType(reason="a form post (application/x-www-form-urlencoded) is expected")
    form = {k: str(v) for k, v in (await request.post()).items()}
    check_form(request, form, request.app[WEB].token())
    return form


def _by(request: web.Request) -> str:
    return f"dashboard {request.remote or '?'}"


async def source_action(request: web.Request) -> web.Response:
    """Pause or resume a source's scheduled runs."""
    form = await _form(request)
    ctx = request.app[WEB]
    name = request.match_info["name"]
    if name not in ctx.sources():
        raise web.HTTPNotFound(reason=f"no source {name!r}")
    await ctx.controls.set(source_scope(name), pausing(request), _by(request))
    raise web.HTTPSeeOther(back_to(form))


async def downloads_action(request: web.Request) -> web.Response:
    """Pause or resume every download."""
    form = await _form(request)
    await request.app[WEB].controls.set(DOWNLOADS, pausing(request), _by(request))
    raise web.HTTPSeeOther(back_to(form))


async def retry_action(request: web.Request) -> web.Response:
    """Retry one failed item (``item``) or the failed items of a source and/or error code."""
    form = await _form(request)
    store = request.app[WEB].store
    item = form.get("item", "")
    if item:
        if not item.isdigit():
            raise web.HTTPBadRequest(reason="item must be an item id")
        await store.retry_failed(item_id=int(item))
    else:
        await store.retry_failed(source=form.get("source") or None, code=form.get("code") or None)
    request.app[WEB].controls.changed.set()  # wakes the downloader
    raise web.HTTPSeeOther(back_to(form, "/queues"))


async def task_action(request: web.Request) -> web.Response:
    """Start a backfill, an ingest or a model re-run (as ``POST /api/tasks``)."""
    form = await _form(request)
    tasks = request.app[TASKS]
    body = {k: v for k, v in form.items() if k in ("kind", "source", "since", "until", "processor") and v}
    try:
        kind, params = check_task(body, tasks.sources(), tasks.processors(), tasks.max_range_days)
    except InputError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    await tasks.store.create_task(kind, params)
    tasks.runner.wake.set()
    raise web.HTTPSeeOther(back_to(form, "/queues"))
