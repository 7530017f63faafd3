"""One node among N sharing a store: its heartbeat, and taking a source's scheduled run.

Every daemon beats into ``nodes`` every ``[daemon] heartbeat_s`` seconds (its name, host,
pid, version); ``harvestd status``, ``/api/health`` and ``/metrics`` read them back with the
leases each node holds. A node whose beat stops is shown as silent; its leases expire and
other nodes claim the work (no node is trusted to say another is dead).

A scheduled run fires on every node; the first to claim it in the store runs it and the
others log ``source_run_skipped`` naming the node that took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.triggers.cron import CronTrigger
from tzlocal import get_localzone

from daemon import __version__
from daemon.aio import node_name
from daemon.store import Store

log = structlog.get_logger("daemon.nodes")


def schedule_gap_s(schedule: str, now: datetime | None = None) -> float:
    """Half the time between two fires of the cron ``schedule`` (seconds, at least 1): a run
    claimed that recently by another node is the same fire (their jitter differs)."""
    trigger = CronTrigger.from_crontab(schedule, timezone=get_localzone())
    start = now or datetime.now(get_localzone())
    first = trigger.get_next_fire_time(None, start)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1)) if first else None
    if first is None or second is None:
        return 1.0
    return max(1.0, (second - first).total_seconds() / 2)


class Heartbeat:
    """Beats for this node until stopped; the last word is ``stopped_at``."""

    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self.name = node_name()
        self.started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def beat(self) -> None:
        """One heartbeat now."""
        await self.store.heartbeat(self.name, socket.gethostname(), os.getpid(), __version__, self.started_at)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every ``interval_s`` seconds until ``stop``; a failed beat is logged, never fatal."""
        while not stop.is_set():
            try:
                await self.beat()
            except Exception as exc:  # the store's own checks report it
                log.warning("heartbeat_failed", node=self.name, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    async def stopped(self) -> None:
        """Record a clean stop (best effort)."""
        with contextlib.suppress(Exception):
            await self.store.node_stopped(self.name, os.getpid())
