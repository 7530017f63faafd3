"""Tasks posted to the HTTP API, advanced by one runner in the daemon (stored, so they survive
a restart and carry on).

Stages: ``queued → acquiring → processing → completed | failed``.

- ``backfill`` (source, since, until): acquiring lists the range and enqueues it like
  ``harvestd backfill`` (new items enriched, transient failures retried); processing follows
  those items until each is processed or failed.
- ``ingest`` (source): the same for what a scheduled run of the source would find now.
- ``run_model`` (processor, optional items filter ``{"source": …, "keys": […]}``): acquiring
  puts the finished results of that processor back to pending (e.g. after a threshold
  change); processing follows them until each is completed or failed.

Acquiring is idempotent (items are unique per source and key), so a task interrupted by a
restart simply does its stage again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from daemon.aio import lease_owner, owner_is_dead, wait_any
from daemon.codes import ResultStatus, TaskKind, TaskStage
from daemon.errors import InputError, StoreUnavailable
from daemon.http import HttpClient
from daemon.pipeline import Intake, Listing, Plan, require_source, settled_counts
from daemon.sources.base import Source
from daemon.store import Store
from daemon.store.tasks import OPEN_STAGES

log = structlog.get_logger("daemon.tasks")
# what POST /api/tasks takes (geo_model tasks come from POST /api/run-model: daemon.geo)
KINDS: tuple[str, ...] = (TaskKind.BACKFILL, TaskKind.INGEST, TaskKind.RUN_MODEL)


class TaskError(InputError):
    """A task that cannot be created or carried out (the reason goes to the API / the row)."""


def check_task(body: Any, sources: Mapping[str, Source], processors: set[str],
               max_range_days: int = 366) -> tuple[str, dict[str, Any]]:
    """Validate a task request body; returns (kind, params). Raises TaskError with the reason
    (a backfill range longer than ``max_range_days`` included: ``harvestd backfill`` is the
    tool for longer ones)."""
    if not isinstance(body, dict):
        raise TaskError("the body must be a JSON object")
    kind = body.get("kind")
    for name in ("kind", "source", "processor"):  # names, never objects (they are looked up)
        if name in body and not isinstance(body[name], str):
            raise TaskError(f"'{name}' must be a string")
    if kind not in KINDS:
        raise TaskError(f"unknown task kind {kind!r} (one of {', '.join(KINDS)})")
    params = {k: v for k, v in body.items() if k != "kind"}
    if kind in (TaskKind.BACKFILL, TaskKind.INGEST):
        require_source(str(params.get("source")), sources)  # UnknownSource: an InputError (400)
        bounds = (params.get("since"), params.get("until"))
        if kind == TaskKind.BACKFILL and not all(isinstance(b, str) or b is None for b in bounds):
            raise TaskError("'since' and 'until' must be strings (as for harvestd backfill)")
        if kind == TaskKind.BACKFILL and None in bounds and not sources[params["source"]].lists_everything:
            raise TaskError("a backfill needs 'since' and 'until' (as for harvestd backfill)")
        if kind == TaskKind.BACKFILL and None not in bounds:
            _check_range(str(bounds[0]), str(bounds[1]), max_range_days)
    else:
        if params.get("processor") not in processors:
            raise TaskError(f"unknown processor {params.get('processor')!r}")
        items = params.get("items", {})
        if not isinstance(items, dict) or set(items) - {"source", "keys"} or (
                "keys" in items and not (isinstance(items["keys"], list)
                                         and all(isinstance(k, str) for k in items["keys"]))) or (
                "source" in items and not isinstance(items["source"], str)):
            raise TaskError("items must be an object with optional 'source' (a string) and 'keys' "
                            "(a list of strings)")
    return kind, params


def _check_range(since: str, until: str, max_days: int) -> None:
    """Raises TaskError when ``until`` is before ``since`` or the range spans > ``max_days``."""
    try:
        start, end = (datetime.fromisoformat(b.strip()).replace(tzinfo=None) for b in (since, until))
    except ValueError:
        raise TaskError(f"'since' and 'until' must be ISO 8601 dates or times: {since!r}, {until!r}") from None
    if end < start:
        raise TaskError(f"'until' {until} is before 'since' {since}")
    days = (end - start).days + 1
    if days > max_days:
        raise TaskError(f"the range spans {days} days, more than [api] max_task_range_days = {max_days}: "
                        "split it into several tasks, or run harvestd backfill")


class TaskRunner:
    """``await runner.run(stop)``: advances every open task, oldest first."""

    def __init__(self, store: Store, http: HttpClient, sources: Callable[[], Mapping[str, Source]],
                 on_enqueued: Callable[[], None], poll_s: float = 1.0, lease_s: float = 60.0) -> None:
        self.store = store
        self.http = http
        self.sources = sources
        self.on_enqueued = on_enqueued
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.owner = lease_owner("tasks")
        self.wake = asyncio.Event()  # set when a task is posted
        self._held: set[int] = set()
        self._others: set[int] = set()  # open tasks another process holds (logged once)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; one failing task never stops the others. A task is advanced
        only under its lease (N nodes on one store: one advances it, the others skip it; a
        dead holder's lease expires, or is taken at once when it was a process of this node)."""
        try:
            while not stop.is_set():
                self.wake.clear()
                try:
                    await self._advance_all()
                except StoreUnavailable as exc:  # PostgreSQL restarting: the next poll carries on
                    log.warning("store_unavailable_waiting", component="tasks", error=str(exc))
                    await wait_any([stop], max(self.poll_s, 5.0))
                await wait_any([stop, self.wake], self.poll_s)
        finally:
            for task_id in self._held:
                with contextlib.suppress(Exception):  # at stop: the lease then expires by itself
                    await asyncio.shield(self.store.release_task(task_id, self.owner))

    async def _advance_all(self) -> None:
        for task in await self.store.open_tasks(KINDS):
            if not await self.store.lease_task(task["id"], self.owner, self.lease_s, is_dead=owner_is_dead):
                if task["id"] not in self._others:  # said once per task
                    if len(self._others) > 10_000:  # a year of other nodes' tasks: forget the old
                        self._others.clear()
                    self._others.add(task["id"])
                    log.info("task_skipped", task_id=task["id"], reason="another node or process advances it")
                continue
            self._held.add(task["id"])
            with structlog.contextvars.bound_contextvars(task_id=task["id"], task_kind=task["kind"]):
                await self._step_leased(task)
            now = await self.store.get_task(task["id"])
            if now is None or now["stage"] not in OPEN_STAGES:  # finished: its lease is given up
                await self.store.release_task(task["id"], self.owner)
                self._held.discard(task["id"])

    async def _step_leased(self, task: dict[str, Any]) -> None:
        """:meth:`step`, renewing the task's lease meanwhile (an acquisition can outlast it)."""
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                with contextlib.suppress(StoreUnavailable):  # tried again a third of a lease later
                    await self.store.lease_task(task["id"], self.owner, self.lease_s)

        renewer = asyncio.create_task(renew())
        try:
            await self.step(task)
        except StoreUnavailable:  # not the task's fault: it carries on when the store is back
            raise
        except Exception as exc:  # the reason is the task's, not the daemon's
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("task_failed", error=reason)
            await self.store.update_task(task["id"], stage=TaskStage.FAILED, error=reason)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def step(self, task: dict[str, Any]) -> None:
        """Advance one task by one stage (or refresh its progress while processing)."""
        stage, params = task["stage"], task["params"]
        if stage == TaskStage.QUEUED:
            await self.store.update_task(task["id"], stage=TaskStage.ACQUIRING)
            log.info("task_acquiring")
        elif stage == TaskStage.ACQUIRING:
            follow = await self._acquire(task["kind"], params)
            await self.store.update_task(task["id"], stage=TaskStage.PROCESSING, follow=follow,
                                         total=len(follow))
            self.on_enqueued()
            log.info("task_processing", total=len(follow))
        elif stage == TaskStage.PROCESSING:
            done, failed = await self._progress(task["kind"], params, task["follow"])
            finished = done + failed >= len(task["follow"])
            await self.store.update_task(task["id"], done=done, failed=failed,
                                         **({"stage": TaskStage.COMPLETED} if finished else {}))
            if finished:
                log.info("task_completed", done=done, failed=failed)

    async def _acquire(self, kind: str, params: dict[str, Any]) -> list[Any]:
        if kind == TaskKind.RUN_MODEL:
            items = params.get("items") or {}
            return await self.store.requeue_results(params["processor"], items.get("source"), items.get("keys"))
        source = require_source(params["source"], self.sources())
        follow = Plan()

        async def on_part(part: Plan) -> bool:
            follow.merge(part)
            if part.pending:
                self.on_enqueued()
            return True

        if kind == TaskKind.BACKFILL:  # a past range, as harvestd backfill
            intake = Intake(self.store, source, self.http, Listing.RANGE)
            await intake.take(source.backfill(params.get("since"), params.get("until"), self.http),
                              on_part=on_part)
        else:  # ingest: the scheduled discovery, now (marks saved as a scheduled run saves them)
            source.resume(await self.store.source_state(source.name))
            intake = Intake(self.store, source, self.http, Listing.WINDOW)
            await intake.take(source.discover(datetime.now(UTC), self.http), on_part=on_part)
        return follow.keys

    async def _progress(self, kind: str, params: dict[str, Any], follow: list[Any]) -> tuple[int, int]:
        if kind == TaskKind.RUN_MODEL:
            states = await self.store.result_states(follow)
            return (sum(1 for s in states.values() if s == ResultStatus.COMPLETED),
                    sum(1 for s in states.values() if s == ResultStatus.FAILED))
        return settled_counts(await self.store.item_states(params["source"], follow))

