"""Health of the running daemon: the checks behind ``GET /api/health``.

Each check says ``ok`` and what it saw: the store takes a write; the downloader answers
(aria2c connected, or the built-in backend); the scheduler has its jobs and their next run
times; the worker backlog (pending results); event-loop lag; the library root (usable,
fallback or paused) and its free space in bytes. Healthy = every process check ok.

``sources`` is not a process check: it says whether each source is harvesting
(:mod:`daemon.source_health`). A failing source makes the answer ``degraded`` (200, with
the reason), never ``ok``; the systemd watchdog does not restart the daemon for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from daemon.aio import node_name
from daemon.downloads.base import Downloader
from daemon.source_health import source_states
from daemon.store import Store
from daemon.worker.worker import Worker

CHECK_TIMEOUT_S = 5.0


@dataclass
class HealthContext:
    """What the checks read (``app[HEALTH]``): shared resources and two live readings of
    the runtime. Each component answers its own check (``health()``)."""

    store: Store
    downloader: Downloader
    worker: Worker
    scheduler: Callable[[], dict[str, Any]]  # the scheduler's health(): ok, jobs and next runs
    loop_lag_s: Callable[[], float]  # the last sample of :func:`sample_loop_lag`
    max_loop_lag_s: float
    stale_after_s: Callable[[], Mapping[str, float | None]] = dict  # each source's stale_after_s
    heartbeat_s: float = 10.0  # [daemon] heartbeat_s: a node silent 3× this long is flagged


HEALTH: web.AppKey[HealthContext] = web.AppKey("health", HealthContext)


@dataclass
class LoopLag:
    """The event loop's lag: how late a 1 s sleep woke up, last sample (seconds)."""

    value_s: float = 0.0


LOOP_LAG: web.AppKey[LoopLag] = web.AppKey("loop_lag", LoopLag)


async def sample_loop_lag(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: while the API serves, sample the loop lag into ``app[LOOP_LAG]`` once a
    second (for ``/api/health`` and ``/metrics``); stops with the API."""
    lag = app[LOOP_LAG]

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(1.0)
            lag.value_s = max(0.0, loop.time() - started - 1.0)

    task = asyncio.create_task(sample(), name="loop-lag")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def check_store(store: Store, timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
    """The store takes a write within ``timeout_s`` (also the systemd watchdog's check)."""
    try:
        async with asyncio.timeout(timeout_s):
            await store.ping()
    except Exception as exc:  # any failure is the answer, not a crash
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True}


def check_loop(lag_s: float, max_lag_s: float) -> dict[str, Any]:
    """Event-loop lag below ``max_lag_s`` (also the systemd watchdog's check)."""
    return {"ok": lag_s < max_lag_s, "lag_s": round(lag_s, 4), "max_lag_s": max_lag_s}


async def _library(src: HealthContext) -> dict[str, Any]:
    # the guard's own verdict and threshold ([library] min_free_bytes, the staging folder):
    # health says "unhealthy" exactly when downloads pause, never at a threshold of its own
    guard = src.downloader.guard
    state = await guard.check(src.downloader.settings.staging_dir)
    if state.root is None:
        return {"ok": False, "paused": True, "reason": state.reason}
    try:
        usage = await asyncio.wait_for(asyncio.to_thread(shutil.disk_usage, state.root), CHECK_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "root": str(state.root), "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "root": str(state.root), "fallback": bool(state.reason), "reason": state.reason,
            "free_bytes": usage.free, "min_free_bytes": guard.settings.min_free_bytes,
            **({"bucket": guard.settings.url} if guard.settings.url else {})}


async def collect_health(src: HealthContext) -> tuple[bool, dict[str, Any]]:
    """Run every check; returns (healthy, ``{check: {"ok": bool, …}}``)."""
    lag_s = src.loop_lag_s()
    checks = {
        "store": await check_store(src.store),
        "downloader": src.downloader.health(),
        "scheduler": src.scheduler(),
        "worker": await src.worker.health(),
        "event_loop": check_loop(lag_s, src.max_loop_lag_s),
        "library": await _library(src),
    }
    healthy = all(c["ok"] for c in checks.values())
    try:  # an operator's pauses: shown, never a reason to call the process unhealthy
        paused = await asyncio.wait_for(src.store.controls(), CHECK_TIMEOUT_S)
        sources = sorted(s.split(":", 1)[1] for s in paused if s.startswith("source:"))
        checks["controls"] = {"ok": True, "downloads_paused": "downloads" in paused, "paused_sources": sources}
    except Exception as exc:  # the store check above reports a store failure
        checks["controls"] = {"ok": True, "error": f"{type(exc).__name__}: {exc}"}
    try:  # N nodes on one store: who beats, who holds what (shown; silence is not this node's health)
        nodes = await asyncio.wait_for(src.store.nodes(), CHECK_TIMEOUT_S)
        checks["nodes"] = {"ok": True, "this": node_name(), "nodes": [
            {**n, "silent": n["stopped_at"] is None and n["age_s"] > 3 * src.heartbeat_s} for n in nodes]}
    except Exception as exc:  # the store check above reports a store failure
        checks["nodes"] = {"ok": True, "error": f"{type(exc).__name__}: {exc}"}
    try:
        states = await asyncio.wait_for(source_states(src.store, src.stale_after_s()), CHECK_TIMEOUT_S)
    except Exception as exc:  # the store check above already reports a store failure
        checks["sources"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "failing": []}
    else:
        failing = sorted(n for n, st in states.items() if not st["ok"])
        checks["sources"] = {"ok": not failing, "failing": failing, "sources": states}
    return healthy, checks
