"""APScheduler 3.x wiring: one cron job per enabled source, reconciled on reload.

Jobs run on the daemon's loop (``AsyncIOScheduler``) with ``coalesce=True`` (missed runs
become one), ``max_instances=1`` (a slow run is never stacked) and a real
``misfire_grace_time`` (APScheduler's default of 1 s silently drops runs after a restart).
Cron expressions are read in the daemon's local time zone. On reload only jobs whose
trigger spec changed are rescheduled; jobs of removed or disabled sources are removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from tzlocal import get_localzone

from daemon.config.root import Config

log = structlog.get_logger("daemon.scheduler")


def job_id(source: str) -> str:
    """The scheduler job id of a source."""
    return f"source:{source}"


def _spec(cfg: Config, name: str) -> tuple[Any, ...]:
    src = cfg.sources[name]
    return (src.schedule, src.jitter_s, src.misfire_grace_s)


class Jobs:
    """Keeps the scheduler's jobs equal to the enabled sources of the current config."""

    def __init__(self, run_source: Callable[[str], Awaitable[None]]) -> None:
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1}, timezone=get_localzone()
        )
        self._run_source = run_source
        self._specs: dict[str, tuple[Any, ...]] = {}
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
        )

    @staticmethod
    def _on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job_missed", job=event.job_id, scheduled=str(event.scheduled_run_time))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job_still_running_skipped", job=event.job_id)
        else:
            log.error("job_error", job=event.job_id, error=repr(event.exception))

    def start(self) -> None:
        """Start the scheduler (must be called inside the running loop)."""
        self.scheduler.start()

    def sync(self, cfg: Config, first: bool = False) -> dict[str, list[str]]:
        """Add, reschedule or remove jobs so they match ``cfg``; returns what changed.

        With ``first``, sources with ``run_on_start`` also run once right away.
        """
        wanted = {n for n, s in cfg.sources.items() if s.enabled}
        changes: dict[str, list[str]] = {"added": [], "rescheduled": [], "removed": []}
        for name in sorted(set(self._specs) - wanted):
            self.scheduler.remove_job(job_id(name))
            del self._specs[name]
            changes["removed"].append(name)
        zone = get_localzone()
        for name in sorted(wanted):
            src = cfg.sources[name]
            spec = _spec(cfg, name)
            if self._specs.get(name) == spec:
                continue
            trigger = CronTrigger.from_crontab(src.schedule, timezone=zone)
            if src.jitter_s:
                trigger.jitter = src.jitter_s
            kwargs: dict[str, Any] = {}
            if first and src.run_on_start:
                kwargs["next_run_time"] = datetime.now(zone)
            self.scheduler.add_job(
                self._run_source, trigger, args=[name], id=job_id(name), name=f"harvest {name}",
                replace_existing=True, misfire_grace_time=src.misfire_grace_s, **kwargs,
            )
            changes["rescheduled" if name in self._specs else "added"].append(name)
            self._specs[name] = spec
        return changes

    def reconfigure(self, cfg: Config) -> dict[str, list[str]]:
        """Apply a reloaded config (:meth:`sync`); returns the jobs added, rescheduled, removed."""
        return self.sync(cfg)

    def health(self) -> dict[str, Any]:
        """``/api/health``'s scheduler check: every job and its next run time."""
        return {"ok": True, "jobs": self.next_runs()}

    def next_runs(self) -> dict[str, str | None]:
        """Job id → next run time (ISO 8601) or None when paused."""
        return {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None
            for job in self.scheduler.get_jobs()
        }

    def pause(self) -> None:
        """Stop firing new runs (shutdown step one)."""
        if self.scheduler.running:
            self.scheduler.pause()

    def shutdown(self) -> None:
        """Stop the scheduler without waiting (running jobs are cancelled by APScheduler)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
