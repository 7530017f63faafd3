"""The store's interface: every query group in one class, whatever the engine.

Type hints name :class:`Store`; a running daemon holds a :class:`~daemon.store.sqlite.SqliteStore`
(the default, one file) or a :class:`~daemon.store.postgres.PgStore` (``[store] url``), opened
by :func:`daemon.store.opening.open_store`.
"""

from __future__ import annotations

from daemon.store.core import CoreQueries
from daemon.store.downloads import DownloadQueries
from daemon.store.geo import GeoQueries
from daemon.store.nodes import NodeQueries
from daemon.store.reports import ReportQueries
from daemon.store.tasks import TaskQueries
from daemon.store.web import WebQueries


class Store(CoreQueries, DownloadQueries, TaskQueries, GeoQueries, WebQueries, ReportQueries, NodeQueries):
    """The harvestd database: items, results, runs, tasks, transfers, source state, controls,
    nodes."""

    async def schema_version(self) -> int:
        """The number of the last applied migration."""
        raise NotImplementedError

    async def ping(self) -> None:
        """A write round trip; raises the engine's error when the store is not writable."""
        raise NotImplementedError

    async def release_owner(self, owner: str) -> int:
        """Release every lease of ``owner`` (a process known to be dead): items and results."""
        return await self.release_items(owner) + await self.release_results(owner)
