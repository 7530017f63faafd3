"""Operator controls: pause / resume a source's scheduled runs, or every download.

Kept in the store (``controls``), so a pause survives a restart and is the same for the
daemon, the dashboard, the JSON API and ``harvestd pause`` / ``resume`` (another process:
the daemon re-reads the table every ``REFRESH_S``). A paused source's scheduled runs are
skipped (logged ``source_run_skipped``); paused downloads claim nothing new (transfers in
flight finish).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from daemon.aio import wait_any
from daemon.store import Store
from daemon.store.web import DOWNLOADS, source_scope

log = structlog.get_logger("daemon.controls")
REFRESH_S = 2.0


class Controls:
    """What is paused now (refreshed from the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.paused: dict[str, dict[str, str]] = {}
        self.changed = asyncio.Event()  # set when a refresh or a change altered something

    @property
    def downloads_paused(self) -> bool:
        """True while every download is paused."""
        return DOWNLOADS in self.paused

    def source_paused(self, name: str) -> bool:
        """True while ``name``'s scheduled runs are paused."""
        return source_scope(name) in self.paused

    def summary(self) -> dict[str, Any]:
        """``{"downloads_paused": bool, "paused_sources": [names]}``."""
        return {"downloads_paused": self.downloads_paused,
                "paused_sources": sorted(s.split(":", 1)[1] for s in self.paused if s.startswith("source:"))}

    async def refresh(self) -> None:
        """Read the table again; sets :attr:`changed` when it differs."""
        now = await self.store.controls()
        if now != self.paused:
            self.paused = now
            self.changed.set()

    async def set(self, scope: str, paused: bool, by: str) -> bool:
        """Pause or resume ``scope`` (``downloads`` or ``source:NAME``); True when changed."""
        changed = await self.store.set_paused(scope, paused, by)
        if changed:
            log.info("control_changed", scope=scope, paused=paused, by=by)
        await self.refresh()
        return changed

    async def watch(self, stop: asyncio.Event) -> None:
        """Refresh every ``REFRESH_S`` until ``stop`` (picks up ``harvestd pause`` from another
        process); a store error is retried at the next tick."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # the health check reports store trouble
                log.warning("controls_refresh_failed", error=f"{type(exc).__name__}: {exc}")
            await wait_any([stop], REFRESH_S)
