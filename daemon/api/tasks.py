"""``POST /api/tasks``, ``GET /api/task/{id}``, ``GET /api/tasks``: see :mod:`daemon.tasks`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from daemon.api.params import MAX_ID, path_id, query_int, read_json
from daemon.codes import TaskKind
from daemon.errors import InputError
from daemon.sources.base import Source
from daemon.store import Store
from daemon.tasks import TaskRunner, check_task

MAX_PAGE = 200


@dataclass
class TaskContext:
    """What the task endpoints need (``app[TASKS]``): the store, the runner (to wake it),
    the live sources and processors."""

    store: Store
    runner: TaskRunner
    sources: Callable[[], Mapping[str, Source]]
    processors: Callable[[], set[str]]
    max_range_days: int = 366


TASKS: web.AppKey[TaskContext] = web.AppKey("tasks", TaskContext)


async def post_task(request: web.Request) -> web.Response:
    """202 with the new task's id and stage; 400 with the reason for a bad request."""
    src = request.app[TASKS]
    body = await read_json(request)
    try:
        kind, params = check_task(body, src.sources(), src.processors(), src.max_range_days)
    except InputError as exc:  # TaskError, UnknownSource
        raise web.HTTPBadRequest(reason=str(exc)) from None
    task_id = await src.store.create_task(kind, params)
    src.runner.wake.set()
    return web.json_response({"id": task_id, "kind": kind, "stage": "queued"}, status=202,
                             headers={"Location": f"/api/task/{task_id}"})


def task_view(task: dict[str, Any], full: bool = True) -> dict[str, Any]:
    """A task as the API shows it: ``status`` (= ``stage``, the InstaGeo backend's name);
    a geo model task adds ``model_type``, ``bbox_count`` and ``stages`` (per-stage counts),
    and — with ``full`` — ``detail`` (per bbox and step); others carry no ``detail``."""
    view = {**task, "status": task["stage"]}
    detail = view.pop("detail", None) or {}
    if task["kind"] == TaskKind.GEO_MODEL:
        params = task["params"]
        view.update(model_type=params.get("model_type"), bbox_count=len(params.get("bboxes", [])),
                    stages=detail.get("stages", {}))
        if full:
            view["detail"] = detail
    return view


async def get_task(request: web.Request) -> web.Response:
    """One task: kind, params, stage (and status), total/done/failed, error, times; a geo
    model task's per-stage, per-bbox and per-step ``detail``."""
    src = request.app[TASKS]
    task_id = path_id(request, "task")
    task = await src.store.get_task(task_id)
    if task is None:
        raise web.HTTPNotFound(reason=f"no task {task_id}")
    return web.json_response(task_view(task))


async def list_tasks(request: web.Request) -> web.Response:
    """Newest first; ``?limit=`` (≤ 200, default 50) and ``?offset=``."""
    src = request.app[TASKS]
    limit = query_int(request, "limit", 50, 1, MAX_PAGE)
    offset = query_int(request, "offset", 0, 0, MAX_ID)
    tasks, total = await src.store.list_tasks(limit, offset)
    return web.json_response({"tasks": [task_view(t, full=False) for t in tasks], "total": total,
                              "limit": limit, "offset": offset})
