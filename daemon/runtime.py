"""The daemon: one asyncio loop hosting the scheduler, downloader, worker and reloader.

Signals only coordinate: SIGTERM/SIGINT set ``stop`` (a second one exits at once), SIGHUP
sets ``reload``. Reload is validate-then-swap: an invalid file is logged with its reason
and the old config stays in force. Shutdown runs in order within
``[daemon] shutdown_timeout_s``: stop scheduling, stop claiming, let in-flight processing
finish and release every lease, close the HTTP session and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from daemon import notify
from daemon.aio import lease_owner, node_name, wait_any
from daemon.api.app import build_app, start_api
from daemon.api.controls import ControlsContext
from daemon.api.geo import GeoApiContext
from daemon.api.health import HealthContext, LoopLag, check_loop, check_store
from daemon.api.tasks import TaskContext
from daemon.api.uploads import UploadContext
from daemon.config.diff import changed_sections
from daemon.config.load import load_config
from daemon.config.root import Config
from daemon.controls import Controls
from daemon.downloads.aria2.process import Aria2Missing
from daemon.errors import ConfigError, HarvestdError, StoreError
from daemon.geo.runner import GeoContext, GeoTaskRunner
from daemon.logs import register_config_secrets
from daemon.nodes import Heartbeat, schedule_gap_s
from daemon.pipeline import run_window
from daemon.resources import Resources, open_resources
from daemon.scheduler import Jobs
from daemon.source_health import SourceWatch, stale_limits
from daemon.sources.base import Source
from daemon.sources.registry import build_source
from daemon.store import StoreDamaged
from daemon.tasks import TaskRunner
from daemon.web.thumbs import Thumbnails
from daemon.web.views import WebContext
from daemon.worker.processors.base import Processor
from daemon.worker.processors.build import build_processors

log = structlog.get_logger("daemon.runtime")
RESTART_REQUIRED = ("data_dir", "store", "worker.threads", "api")


class Daemon:
    """``await Daemon(path, cfg).run()`` returns the process exit status."""

    def __init__(self, config_path: Path, cfg: Config) -> None:
        self.config_path = config_path
        self.cfg = cfg
        self.stop = asyncio.Event()
        self.reload_requested = asyncio.Event()
        self.sources: dict[str, Source] = {n: build_source(n, s) for n, s in cfg.sources.items()}
        self.jobs = Jobs(self._run_source)
        self.res: Resources | None = None
        self.exit_status = 0
        self.loop_lag = LoopLag()  # sampled by the API while it serves
        self._signals = 0
        self._running_jobs: set[asyncio.Task[Any]] = set()
        self.source_watch = SourceWatch()
        self.failing_sources: list[str] = []
        self.uploads: UploadContext | None = None  # the API's uploads, reconfigured on reload
        self.controls: Controls | None = None  # pauses, from the store (set at start)

    # ------------------------------------------------------------------ signals
    def _on_stop_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second_stop_signal_exiting_now", signal=signal.Signals(signum).name)
            os._exit(1)
        log.info("stop_requested", signal=signal.Signals(signum).name)
        self.stop.set()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload_requested.set)

    # ------------------------------------------------------------------ jobs
    async def _run_source(self, name: str) -> None:
        source = self.sources.get(name)
        if source is None or self.res is None or self.stop.is_set():
            return
        if self.controls is not None and self.controls.source_paused(name):
            log.info("source_run_skipped", source=name, reason="paused by an operator (harvestd resume SOURCE)")
            return
        holder = await self.res.store.claim_schedule(name, node_name(), schedule_gap_s(source.config.schedule))
        if holder is not None:  # N nodes on one store: one runs each fire
            log.info("source_run_skipped", source=name, reason=f"node {holder} took this scheduled run")
            return
        task = asyncio.current_task()
        assert task is not None
        self._running_jobs.add(task)
        try:
            timeout_s = float(source.config.run_timeout_s)  # a shared option of every kind
            async with asyncio.timeout(timeout_s):
                await run_window(self.res.store, source, datetime.now(UTC), "schedule", self.res.http,
                                 on_enqueued=self.res.downloader.wake.set)
        except HarvestdError as exc:  # a remote, the library, the store: one line, no traceback
            log.error("harvest_failed", source=name, error=str(exc), error_type=type(exc).__name__)
            return
        except TimeoutError:  # what the run stored stays; the next run carries on from there
            log.error("harvest_failed", source=name,
                      error=f"run cancelled after {timeout_s:.0f} s (run_timeout_s)")
            return
        except Exception:  # a failing run is logged; the next run tries again
            log.exception("harvest_failed", source=name)
            return
        finally:
            self._running_jobs.discard(task)
        self.res.downloader.wake.set()

    async def _stop_jobs(self) -> None:
        """Stop firing runs and cancel the ones running (they only enqueue: idempotent)."""
        self.jobs.pause()
        running = list(self._running_jobs)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # ------------------------------------------------------------------ reload
    async def _reloader(self) -> None:
        while not self.stop.is_set():
            await self.reload_requested.wait()
            self.reload_requested.clear()
            if self.stop.is_set():
                return
            notify.reloading()
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
                register_config_secrets(new)
                sources = {n: build_source(n, s) for n, s in new.sources.items()}
                processors = None
                if new.processors != self.cfg.processors or new.sources != self.cfg.sources:
                    assert self.res is not None
                    processors = await asyncio.to_thread(
                        build_processors, new.processor_configs(), self.res.processors,
                        self.cfg.processor_configs())
            except (ConfigError, OSError, ValueError, RuntimeError) as exc:
                reason = str(exc).replace("\n", "; ")
                log.error("reload_rejected", config=str(self.config_path), reason=reason)
                notify.ready(f"reload failed: {reason[:200]}")
                continue
            self._apply(new, sources, processors)

    def _apply(self, new: Config, sources: dict[str, Source],
               processors: dict[str, Processor] | None) -> None:
        assert self.res is not None
        changed = changed_sections(self.cfg, new)
        if new.worker.threads != self.cfg.worker.threads:
            changed.add("worker.threads")
        held = sorted(c for c in changed if c in RESTART_REQUIRED)
        if held:
            log.warning("restart_required", settings=held,
                        detail="these settings take effect at the next start")
        self.cfg = new
        self.sources = sources
        res = self.res
        res.http.update_settings(new.http)
        for source in sources.values():
            source.suggest_limits(res.http)
        res.downloader.reconfigure(new)
        res.worker.reconfigure(new.worker, new.library.root, processors)
        if self.uploads is not None:
            self.uploads.reconfigure(new.uploads)
        job_changes = self.jobs.reconfigure(new)
        log.info("config_reloaded", config=str(self.config_path), changed=sorted(changed),
                 jobs_added=job_changes["added"], jobs_rescheduled=job_changes["rescheduled"],
                 jobs_removed=job_changes["removed"])
        notify.ready(self._status_line())

    # ------------------------------------------------------------------ health
    def _status_line(self) -> str:
        if self.res is None:
            return "starting"
        library = self.res.downloader.guard.state
        where = ("library paused: " + (library.reason or "") + "; ") if library.paused else (
            f"library on fallback ({library.reason}); " if library.reason else "")
        failing = f"FAILING: {', '.join(self.failing_sources)}; " if self.failing_sources else ""
        return (f"{failing}{where}{len(self.sources)} sources; downloading {self.res.downloader.busy}; "
                f"processing {self.res.worker.busy}; processed {self.res.worker.processed}")

    async def _watchdog(self) -> None:
        interval = notify.watchdog_interval_s()
        loop = asyncio.get_running_loop()
        tick = interval if interval else 30.0
        while not self.stop.is_set():
            started = loop.time()
            await asyncio.sleep(tick)
            lag_s = loop.time() - started - tick
            # the process-level checks of /api/health: an unmounted NAS or a restarting
            # aria2c must not make systemd kill the daemon
            assert self.res is not None
            store = await check_store(self.res.store, max(1.0, tick / 2))
            healthy = check_loop(lag_s, self.cfg.daemon.watchdog_max_loop_lag_s)["ok"] and store["ok"]
            if not store["ok"]:
                log.error("health_store_unwritable", error=store["error"])
            if lag_s > 1.0:
                log.warning("event_loop_lag", lag_s=round(lag_s, 3))
            if interval and healthy:
                notify.sd_notify("WATCHDOG=1")
            with contextlib.suppress(Exception):  # the store check above reports store trouble
                async with asyncio.timeout(max(1.0, tick / 2)):
                    self.failing_sources = sorted(
                        n for n, st in (await self.source_watch.check(
                            self.res.store, stale_limits(self.sources))).items() if not st["ok"])
            notify.status(self._status_line())

    def _wake_components(self) -> None:
        if self.res is not None:
            self.res.downloader.wake.set()
            self.res.worker.wake.set()

    async def _start_api(self, cfg: Config, res: Resources) -> web.AppRunner | None:
        """Serve ``[api]`` (health, queues) on this loop; raises OSError if it cannot listen."""
        if not cfg.api.enabled:
            return None
        health = HealthContext(res.store, res.downloader, res.worker, self.jobs.health,
                               lambda: self.loop_lag.value_s, cfg.daemon.watchdog_max_loop_lag_s,
                               stale_after_s=lambda: stale_limits(self.sources),
                               heartbeat_s=cfg.daemon.heartbeat_s)
        self.uploads = UploadContext(res.store, res.downloader, cfg.uploads, res.worker.wake)
        tasks = TaskContext(res.store, self.task_runner, lambda: self.sources, lambda: set(res.processors),
                            cfg.api.max_task_range_days)
        geo = GeoApiContext(res.store, self._geo_context, self.geo_runner.wake.set)
        assert self.controls is not None
        controls = ControlsContext(self.controls, lambda: self.sources, self._wake_components)
        web_ctx = WebContext(res.store, self.controls, self._source_kinds,
                             lambda: self.cfg.library.root, Thumbnails(cfg.data_dir, res.pool),
                             lambda: self.cfg.api.token, lambda: self.cfg.api.map_tile_url, res.files)
        app = build_app(health, cfg.api, self.uploads, tasks, self.loop_lag, geo, controls, web_ctx)
        return await start_api(app, cfg.api)

    async def _follow_controls(self) -> None:
        """Keep the controls fresh; wake the downloader when downloads are resumed."""
        assert self.controls is not None
        watch = asyncio.create_task(self.controls.watch(self.stop))
        try:
            while not self.stop.is_set():
                await wait_any([self.controls.changed, self.stop], 3600.0)
                self.controls.changed.clear()
                self._wake_components()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    def _source_kinds(self) -> dict[str, str]:
        """name → kind of the configured sources (the dashboard's navigation)."""
        return {name: str(source.config.kind) for name, source in self.sources.items()}

    def _geo_context(self) -> GeoContext:
        """``[geo]``, ``[models]`` and the library root of the config in force (reloads apply)."""
        files = self.res.files if self.res is not None and self.res.files.objects is not None else None
        return GeoContext(self.cfg.geo, self.cfg.models, self.cfg.library.root, files)

    async def _supervise(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except StoreDamaged as exc:  # the file, not the code: one line that says what to do
            log.critical("store_damaged", component=name, reason=str(exc))
            self.exit_status = 1
            self.stop.set()
        except Exception:
            log.critical("component_died", component=name, exc_info=True)
            self.exit_status = 1
            self.stop.set()

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit status (0 clean, 1 a component died)."""
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        cfg = self.cfg
        try:
            return await self._run(cfg)
        except (OSError, sqlite3.Error, Aria2Missing, StoreError) as exc:  # e.g. data folder not writable
            log.critical("startup_failed", reason=f"{type(exc).__name__}: {exc}",
                         db="postgresql" if cfg.store.url else str(cfg.db_path), library=str(cfg.library.root))
            notify.sd_notify(f"STATUS=startup failed: {exc}", f"ERRNO={getattr(exc, 'errno', 0) or 5}")
            return 1

    async def _run(self, cfg: Config) -> int:
        async with open_resources(cfg, "daemon") as res:
            self.res = res
            self.task_runner = TaskRunner(res.store, res.http, lambda: self.sources, self._wake_components)
            self.controls = Controls(res.store)
            await self.controls.refresh()
            res.downloader.paused = lambda: self.controls is not None and self.controls.downloads_paused
            self.geo_runner = GeoTaskRunner(res.store, res.http, self._geo_context, res.pool,
                                            lease_owner("geo"))
            # everything that can fail at start (the listener's address) before any component
            # runs: a failed start is one startup_failed line, never a component dying mid-teardown
            api = await self._start_api(cfg, res)
            components = asyncio.Event()  # set → downloader and worker stop claiming
            heartbeat = Heartbeat(res.store, cfg.daemon.heartbeat_s)
            await heartbeat.beat()
            tasks = [
                asyncio.create_task(self._supervise("downloader", res.downloader.run(components))),
                asyncio.create_task(self._supervise("worker", res.worker.run(components))),
            ]
            side: list[asyncio.Task[Any]] = []
            try:
                side = [asyncio.create_task(self._reloader()), asyncio.create_task(self._watchdog()),
                        asyncio.create_task(self.task_runner.run(self.stop)),
                        asyncio.create_task(self.geo_runner.run(self.stop)),
                        asyncio.create_task(self._follow_controls()),
                        asyncio.create_task(heartbeat.run(self.stop)),
                        asyncio.create_task(res.store.listen(  # PostgreSQL: woken by other nodes
                            {"items": res.downloader.wake.set, "results": res.worker.wake.set}, self.stop))]
                self.jobs.start()
                self.jobs.sync(cfg, first=True)
                log.info("daemon_started", config=str(self.config_path), db=res.store.where, node=node_name(),
                         library=str(cfg.library.root), sources=sorted(self.sources),
                         pid=os.getpid(), next_runs=self.jobs.next_runs())
                notify.ready(self._status_line())
                await self.stop.wait()
                notify.stopping()
                log.info("daemon_stopping")
            finally:  # components stop before the store closes, whatever ended the run
                await self._shut_down(api, components, tasks, side)
                await heartbeat.stopped()
            busy = await res.store.busy_counts()
        log.info("daemon_stopped", left_downloading=busy["downloading"],
                 left_processing=busy["processing"], exit_status=self.exit_status)
        return self.exit_status

    async def _shut_down(self, api: web.AppRunner | None, components: asyncio.Event,
                         tasks: list[asyncio.Task[Any]], side: list[asyncio.Task[Any]]) -> None:
        """Stop in order: API, scheduled runs, claiming (in-flight work finishes within
        ``shutdown_timeout_s``, then is cancelled), the side tasks."""
        if api is not None:
            await api.cleanup()
        await self._stop_jobs()
        components.set()
        _done, pending = await asyncio.wait(tasks, timeout=self.cfg.daemon.shutdown_timeout_s)
        for task in pending:
            log.warning("component_stop_timeout", task=task.get_name())
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.jobs.shutdown()
        for task in side:
            task.cancel()
        await asyncio.gather(*side, return_exceptions=True)
