"""The claim-with-lease work loop shared by the downloader and the image worker.

Like procrastinate's worker: wait for "new work" OR a free slot OR the poll interval OR
stop; claim as many rows as there are free slots (each with a lease in the store); run each
in its own task; renew the leases held every ``lease_s / 3`` seconds. On stop, in-flight
tasks are finished (or cancelled, per subclass) and every lease still held is released.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import structlog

from daemon.aio import wait_any
from daemon.errors import StoreUnavailable
from daemon.store import Store, StoreDamaged

T = TypeVar("T")
HOUSEKEEPING_S = 120.0
STORE_RETRY_S = 5.0  # PostgreSQL unreachable: try again this often
log = structlog.get_logger("daemon.polling")


class LoopSettings(Protocol):
    """The settings every loop reads live (a reload may swap them)."""

    @property
    def lease_s(self) -> float: ...

    @property
    def poll_interval_s(self) -> float: ...


class LeasedPollingLoop(ABC, Generic[T]):
    """Subclasses say how to claim, handle and release work, and how much at once."""

    component = "loop"
    settings: LoopSettings

    def __init__(self, store: Store, owner: str, source: str | None) -> None:
        self.store = store
        self.owner = owner
        self.source = source
        self.wake = asyncio.Event()  # set by whoever knows new work is there
        self._slot_freed = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._fatal: StoreDamaged | None = None
        #: while this answers True nothing new is claimed (an operator's pause); work in flight goes on
        self.paused: Callable[[], bool] = lambda: False

    @property
    def busy(self) -> int:
        """Claimed rows being handled right now."""
        return len(self._inflight)

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many rows may be in flight at once."""

    @property
    def lease_s(self) -> float:
        """Lease length in seconds."""
        return self.settings.lease_s

    @property
    def poll_interval_s(self) -> float:
        """Idle poll interval in seconds."""
        return self.settings.poll_interval_s

    @abstractmethod
    async def claim(self, limit: int) -> Sequence[T]:
        """Lease up to ``limit`` rows from the store."""

    @abstractmethod
    async def handle(self, work: T) -> None:
        """Handle one claimed row; must never raise except on cancellation."""

    @abstractmethod
    async def release(self) -> int:
        """Give back every lease this loop still holds; returns how many."""

    async def finish_inflight(self, tasks: set[asyncio.Task[None]]) -> None:
        """On stop: wait for in-flight work (override to cancel instead)."""
        await asyncio.wait(tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and handle work until ``stop`` is set; then finish and release."""
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        kept_at = -HOUSEKEEPING_S
        try:
            while not stop.is_set():
                if self._fatal is not None:  # a damaged store: the component stops, the daemon with it
                    raise self._fatal
                if loop.time() - kept_at >= HOUSEKEEPING_S:
                    kept_at = loop.time()
                    await self.housekeeping()
                self.wake.clear()
                self._slot_freed.clear()
                try:
                    if self._inflight and loop.time() - renewed_at > self.lease_s / 3:
                        await self.store.renew_leases(self.owner, self.lease_s)
                        renewed_at = loop.time()
                    free = self.capacity - len(self._inflight)
                    claimed = await self.claim(free) if free > 0 and not self.paused() else []
                except StoreUnavailable as exc:  # PostgreSQL restarting: wait, never die of it
                    log.warning("store_unavailable_waiting", component=self.component, error=str(exc),
                                retry_in_s=STORE_RETRY_S)
                    await wait_any([stop], STORE_RETRY_S)
                    continue
                for work in claimed:
                    self.start_work(work)
                if not claimed or len(self._inflight) >= self.capacity:
                    await wait_any([self.wake, self._slot_freed, stop], self.poll_interval_s)
        finally:
            if self._inflight:
                await self.finish_inflight(set(self._inflight))
            try:
                released = await self.release()
            except StoreUnavailable as exc:  # the leases then expire by themselves
                log.warning("leases_not_released", component=self.component, error=str(exc))
                released = 0
            if released:
                log.info("leases_released", component=self.component, count=released)
            if self._fatal is None:
                await self.housekeeping()  # what this run leaves behind is swept now, not at the next start

    def start_work(self, work: T) -> None:
        """Handle ``work`` (already leased) in its own task, counted as in flight."""
        task = asyncio.create_task(self.handle(work))
        self._inflight.add(task)
        task.add_done_callback(self._done)

    async def housekeeping(self) -> None:
        """Called at start, every :data:`HOUSEKEEPING_S` seconds and at stop (e.g. the staging
        sweep); must not raise for a passing problem (it logs it)."""

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if isinstance(exc, StoreUnavailable):  # its lease expires; the work is claimed again
                log.warning("work_interrupted_store_unavailable", component=self.component, error=str(exc))
                return
            if isinstance(exc, StoreDamaged):
                self._fatal = exc
                self.wake.set()
                return
            log.error("work_task_crashed", component=self.component, error=repr(exc))
