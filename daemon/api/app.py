"""The HTTP API (aiohttp.web on the daemon's event loop): health, queue status, metrics,
uploads, tasks, geo tasks, controls — and the dashboard (:mod:`daemon.web`) on the same app.

Errors are JSON ``{"error": "…"}`` with their status code (never a traceback page). Every
request passes :mod:`daemon.api.guard` (Host allow-list, no cross-site writes). With
``[api] token`` set, every request that is not a GET/HEAD needs ``Authorization: Bearer
<token>`` (compared in constant time) — except the dashboard's form posts under ``/ui/``,
which carry the token in a form field and are checked by :mod:`daemon.web.forms`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from daemon import metrics
from daemon.api.controls import (
    CONTROLS,
    ControlsContext,
    get_controls,
    post_downloads,
    post_item_retry,
    post_retry,
    post_source,
)
from daemon.api.geo import GEO, GeoApiContext, post_run_model
from daemon.api.guard import guard_middleware
from daemon.api.health import HEALTH, LOOP_LAG, HealthContext, LoopLag, collect_health, sample_loop_lag
from daemon.api.openapi import get_openapi
from daemon.api.tasks import TASKS, TaskContext, get_task, list_tasks, post_task
from daemon.api.uploads import UPLOADS, UploadContext, get_item, post_upload
from daemon.config.api import ApiSettings, split_listen
from daemon.errors import StoreUnavailable
from daemon.web.app import setup_web
from daemon.web.views import WebContext

log = structlog.get_logger("daemon.api")
SETTINGS: web.AppKey[ApiSettings] = web.AppKey("settings", ApiSettings)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as ``{"error": …}``; an unexpected exception is logged and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except StoreUnavailable as exc:  # PostgreSQL restarting: the client may try again shortly
        log.warning("api_store_unavailable", method=request.method, path=request.path, error=str(exc))
        return web.json_response({"error": "the database cannot be reached now; try again shortly"},
                                 status=503, headers={"Retry-After": "5"})
    except Exception:
        log.exception("api_request_failed", method=request.method, path=request.path)
        return web.json_response({"error": "internal error (see the daemon log)"}, status=500)


@web.middleware
async def bearer_for_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With a token configured, writes need ``Authorization: Bearer <token>``."""
    token = request.app[SETTINGS].token
    # the dashboard's form posts (/ui/) carry the token in a field and check it themselves
    if token and request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith("/ui/"):
        given = request.headers.get("Authorization", "")
        # a header that is not UTF-8 arrives with surrogate escapes: compare it as bytes anyway
        if not hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {token}".encode()):
            return web.json_response({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
    return await handler(request)


async def get_health(request: web.Request) -> web.Response:
    """503 ``unhealthy`` when a process check fails; 200 ``degraded`` when a source is failing
    (``failing`` names it as ``source:NAME``, ``reasons`` says why); 200 ``ok`` otherwise."""
    healthy, checks = await collect_health(request.app[HEALTH])
    failing = sorted(name for name, check in checks.items() if not check["ok"] and name != "sources")
    sources = checks["sources"]
    failing += [f"source:{n}" for n in sources.get("failing", [])]
    reasons = {f"source:{n}": sources["sources"][n]["reason"] for n in sources.get("failing", [])}
    status = "unhealthy" if not healthy else "degraded" if failing else "ok"
    body = {"status": status, "failing": failing, "reasons": reasons, "checks": checks}
    return web.json_response(body, status=200 if healthy else 503)


async def get_queue_status(request: web.Request) -> web.Response:
    """Counts of items and results per status, per source and processor (as ``harvestd status``)."""
    counts = await request.app[HEALTH].store.status_counts()
    return web.json_response(counts)


async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus text format: counters kept by the components, queue sizes read now."""
    src = request.app[HEALTH]
    counts = await src.store.status_counts()
    metrics.ITEMS.clear()
    for item_row in counts["items"]:
        metrics.ITEMS.labels(item_row["source"], item_row["status"]).set(item_row["n"])
    metrics.RESULTS.clear()
    for result_row in counts["results"]:
        metrics.RESULTS.labels(result_row["source"] or "", result_row["processor"],
                               result_row["status"]).set(result_row["n"])
    metrics.NODE_SEEN.clear()
    metrics.NODE_LEASES.clear()
    for node in await src.store.nodes():
        metrics.NODE_SEEN.labels(node["name"]).set(node["age_s"])
        for kind in ("downloading", "processing", "tasks"):
            metrics.NODE_LEASES.labels(node["name"], kind).set(node[kind])
    metrics.DOWNLOADS_ACTIVE.set(src.downloader.busy)
    metrics.LOOP_LAG.set(src.loop_lag_s())
    metrics.ARIA2_RESTARTS.set(src.downloader.restarts)
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(health: HealthContext, settings: ApiSettings, uploads: UploadContext | None = None,
              tasks: TaskContext | None = None, loop_lag: LoopLag | None = None,
              geo: GeoApiContext | None = None, controls: ControlsContext | None = None,
              web_ctx: WebContext | None = None) -> web.Application:
    """The API application (routes under ``/api``; uploads and tasks when given). Every
    dependency is under a typed :class:`web.AppKey`; with ``loop_lag``, the app samples the
    event-loop lag into it while it serves (``cleanup_ctx``)."""
    app = web.Application(middlewares=[json_errors, guard_middleware(settings), bearer_for_writes],
                          client_max_size=1 << 20)
    app[HEALTH] = health
    app[SETTINGS] = settings
    if loop_lag is not None:
        app[LOOP_LAG] = loop_lag
        app.cleanup_ctx.append(sample_loop_lag)
    app.router.add_get("/api/health", get_health)
    app.router.add_get("/api/queues/status", get_queue_status)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/api/openapi.json", get_openapi)
    if uploads is not None:
        app[UPLOADS] = uploads
        app.router.add_post("/api/uploads", post_upload)
        app.router.add_get("/api/items/{id}", get_item)
    if tasks is not None:
        app[TASKS] = tasks
        app.router.add_post("/api/tasks", post_task)
        app.router.add_get("/api/task/{id}", get_task)
        app.router.add_get("/api/tasks", list_tasks)
    if geo is not None:
        app[GEO] = geo
        app.router.add_post("/api/run-model", post_run_model)
    if controls is not None:
        app[CONTROLS] = controls
        app.router.add_get("/api/controls", get_controls)
        app.router.add_post("/api/controls/downloads/{action}", post_downloads)
        app.router.add_post("/api/controls/sources/{name}/{action}", post_source)
        app.router.add_post("/api/items/{id}/retry", post_item_retry)
        app.router.add_post("/api/retry", post_retry)
    if web_ctx is not None:
        setup_web(app, web_ctx)
    return app


async def start_api(app: web.Application, settings: ApiSettings) -> web.AppRunner:
    """Listen on ``settings.listen``; returns the runner (``await runner.cleanup()`` to stop).

    Raises:
        OSError: the address is taken or not available.
    """
    host, port = split_listen(settings.listen)
    # aiohttp's keep-alive timer also runs while a new connection's request head is awaited:
    # it is the header deadline (a stalled or idle client is closed after it)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           keepalive_timeout=settings.header_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = runner.addresses[0] if runner.addresses else (host, port)
    log.info("api_listening", url=f"http://{bound[0]}:{bound[1]}/api/health",
             auth="bearer token for writes" if settings.token else "none (loopback only)")
    return runner
