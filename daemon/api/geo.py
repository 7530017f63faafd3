"""``POST /api/run-model``: a geo model task (bounding boxes → satellite chips → model), the
InstaGeo backend's endpoint with its body as written (:mod:`daemon.geo.request`). Progress:
``GET /api/task/{id}`` (status ``data_processing`` → ``model_prediction`` → ``completed`` |
``failed``, per-stage, per-bbox and per-step ``detail``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from daemon.api.params import read_json
from daemon.codes import TaskKind, TaskStage
from daemon.geo.auth import MISSING, has_credentials
from daemon.geo.request import GeoRequestError, check_geo_request
from daemon.geo.runner import GeoContext
from daemon.store import Store


@dataclass
class GeoApiContext:
    """What ``POST /api/run-model`` needs (``app[GEO]``): the store, the live geo config and
    a way to wake the geo runner."""

    store: Store
    context: Callable[[], GeoContext]
    wake: Callable[[], None]


GEO: web.AppKey[GeoApiContext] = web.AppKey("geo", GeoApiContext)


async def post_run_model(request: web.Request) -> web.Response:
    """202 with the task id and status ``data_processing``; 400 with the reason for a
    malformed request or one over a ``[geo]`` cap."""
    src = request.app[GEO]
    body = await read_json(request)
    ctx = src.context()
    try:  # projects the bboxes (PROJ): off the event loop
        req = await asyncio.to_thread(check_geo_request, body, ctx.settings, ctx.models)
    except GeoRequestError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    if req.data_source == "HLS" and not has_credentials():
        raise web.HTTPBadRequest(reason=MISSING)
    params = req.model_dump(mode="json")
    task_id = await src.store.create_task(TaskKind.GEO_MODEL, params, stage=TaskStage.DATA_PROCESSING)
    src.wake()
    return web.json_response({"id": task_id, "kind": TaskKind.GEO_MODEL, "status": TaskStage.DATA_PROCESSING,
                              "stage": TaskStage.DATA_PROCESSING}, status=202,
                             headers={"Location": f"/api/task/{task_id}"})
