"""Items of geo model tasks: each chip and each prediction raster a task writes is an item
of the source ``geo:{task_id}``, so that ``harvestd status`` and the API count them and a
task resumed after a restart knows what it already has."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from daemon.store.base import StoreBase
from daemon.store.models import utc_now_iso


def geo_source(task_id: int) -> str:
    """The item source of a geo task's files: ``geo:{task_id}`` (a name no ``[sources]``
    table can have: config source names cannot hold a colon)."""
    return f"geo:{task_id}"


@dataclass(frozen=True)
class GeoItem:
    """One recorded chip or prediction: ``status`` is ``downloaded`` (a chip on disk),
    ``processed`` (a prediction on disk) or ``failed`` (``error`` says why); ``path`` is
    relative to the library root."""

    key: str
    status: str
    path: str | None
    metadata: dict[str, Any]
    error: str | None


class GeoQueries(StoreBase):
    """Rows of ``items`` for geo tasks (written by :mod:`daemon.geo.runner` only)."""

    async def geo_items(self, task_id: int) -> dict[str, GeoItem]:
        """key → :class:`GeoItem` of everything task ``task_id`` has recorded."""
        rows = await self._read("SELECT key, status, path, metadata, last_error FROM items WHERE source = ?",
                                (geo_source(task_id),))
        return {r[0]: GeoItem(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows}

    async def record_geo_item(self, task_id: int, key: str, *, status: str, path: str | None = None,
                              size_bytes: int | None = None, sha256: str | None = None,
                              captured_at: str | None = None, metadata: dict[str, Any] | None = None,
                              error_code: str | None = None, error: str | None = None) -> None:
        """Insert (or replace: a retried chip) the item ``key`` of task ``task_id``."""
        now = utc_now_iso()
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO items (source, key, captured_at, metadata, status, path, bytes, sha256,"
                " error_code, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source, key) DO UPDATE SET captured_at = excluded.captured_at,"
                " metadata = excluded.metadata, status = excluded.status, path = excluded.path,"
                " bytes = excluded.bytes, sha256 = excluded.sha256, error_code = excluded.error_code,"
                " last_error = excluded.last_error, updated_at = excluded.updated_at",
                (geo_source(task_id), key, captured_at, json.dumps(metadata or {}, sort_keys=True), status,
                 path, size_bytes, sha256, error_code, error, now, now))
