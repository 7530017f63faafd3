"""Queries behind the dashboard and its JSON endpoints, and the operator controls (pause /
resume a source's schedule or every download), kept in ``controls`` across restarts."""

from __future__ import annotations

import json
from typing import Any

from daemon.store.base import StoreBase
from daemon.store.models import utc_now_iso
from daemon.store.reports import DONE_STATUSES

DOWNLOADS = "downloads"


def source_scope(name: str) -> str:
    """The control scope of a source's schedule: ``source:NAME``."""
    return f"source:{name}"


class WebQueries(StoreBase):
    """Read-mostly queries of the dashboard; every list is paged or bounded."""

    async def controls(self) -> dict[str, dict[str, str]]:
        """scope → {paused_at (UTC ISO), paused_by} of everything paused now."""
        rows = await self._read("SELECT scope, paused_at, paused_by FROM controls ORDER BY scope")
        return {r["scope"]: {"paused_at": r["paused_at"], "paused_by": r["paused_by"]} for r in rows}

    async def set_paused(self, scope: str, paused: bool, by: str) -> bool:
        """Pause (or resume) ``scope``; True when that changed something."""
        async with self._tx() as db:
            if paused:
                cur = await db.execute("INSERT INTO controls (scope, paused_at, paused_by) VALUES (?, ?, ?)"
                                       " ON CONFLICT (scope) DO NOTHING", (scope, utc_now_iso(), by))
            else:
                cur = await db.execute("DELETE FROM controls WHERE scope = ?", (scope,))
            return bool(cur.rowcount)

    async def gallery(self, source: str, status: str | None, since: str | None, until: str | None,
                      limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Items of ``source`` newest first (by capture time), with their first result's
        octas / cloud fraction / condition; filtered by ``status`` and a capture-time range
        (UTC ISO, inclusive); one page and the total count."""
        where = " WHERE i.source = ?"
        params: list[Any] = [source]
        if status:
            where += " AND i.status = ?"
            params.append(status)
        if since:
            where += " AND i.captured_at >= ?"
            params.append(since)
        if until:
            where += " AND i.captured_at <= ?"
            params.append(until)
        total = (await self._read(f"SELECT COUNT(*) FROM items i{where}", params))[0][0]
        # the page first (an index walk of 48 rows), then each row's result columns
        rows = await self._read(
            "SELECT i.id, i.key, i.status, i.path, i.captured_at, i.bytes, i.error_code, i.last_error,"
            " (SELECT r.octas FROM results r WHERE r.item_id = i.id AND r.octas IS NOT NULL LIMIT 1) AS octas,"
            " (SELECT json_extract(r.output, '$.condition') FROM results r WHERE r.item_id = i.id"
            "  AND +r.status = 'completed' LIMIT 1) AS condition"  # +: look results up by item, not status
            f" FROM (SELECT * FROM items i{where} ORDER BY i.captured_at DESC NULLS LAST, i.id DESC"
            " LIMIT ? OFFSET ?) i"
            " ORDER BY i.captured_at DESC NULLS LAST, i.id DESC", [*params, limit, offset])
        return [dict(r) for r in rows], int(total)

    async def companions(self, source: str, key: str) -> list[dict[str, Any]]:
        """Items filed beside ``key`` (``KEY/camera``, ``KEY/geotiff``): id, key, status, path."""
        rows = await self._read("SELECT id, key, status, path FROM items WHERE source = ? AND key > ?"
                                " AND key < ? ORDER BY key", (source, key + "/", key + "0"))
        return [dict(r) for r in rows]

    async def newest_capture(self, source: str) -> str | None:
        """The newest ``captured_at`` of ``source`` (UTC ISO), or None."""
        rows = await self._read("SELECT MAX(captured_at) FROM items WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    async def sky_series(self, source: str, since: str, until: str) -> list[dict[str, Any]]:
        """Octas results of ``source`` captured in [since, until] (UTC ISO), oldest first:
        item id, captured_at, condition (day / night / no_sky_visible), octas, cloud_fraction."""
        rows = await self._read(
            "SELECT i.id, i.captured_at, json_extract(r.output, '$.condition') AS condition, r.octas,"
            " r.cloud_fraction FROM items i JOIN results r ON r.item_id = i.id"
            " WHERE i.source = ? AND i.captured_at BETWEEN ? AND ? AND +r.status = 'completed'"
            " AND json_extract(r.output, '$.condition') IN ('day', 'night', 'no_sky_visible')"
            " ORDER BY i.captured_at", (source, since, until))
        return [dict(r) for r in rows]

    async def iss_points(self, source: str, mission: str | None, since: str | None, until: str | None,
                         camera: str | None, max_cloud_pct: float | None, limit: int) -> list[dict[str, Any]]:
        """Photos of ``source`` (the ``iss_photos`` view) with their item id: centre and nadir
        points (degrees), date, mission, camera, cloud cover %."""
        sql = ("SELECT i.id, p.nasa_id, p.mission, p.date, p.time, p.lat, p.lon, p.nadir_lat, p.nadir_lon,"
               " p.camera, p.cloud_cover_pct, p.geographic_name, p.status FROM iss_photos p"
               " JOIN items i ON i.source = p.source AND json_extract(i.metadata, '$.nasa_id') = p.nasa_id"
               " AND json_extract(i.metadata, '$.kind') = 'iss_photo' WHERE p.source = ?")
        params: list[Any] = [source]
        for clause, value in ((" AND p.mission = ?", mission), (" AND p.date >= ?", since),
                              (" AND p.date <= ?", until), (" AND p.camera = ?", camera),
                              (" AND p.cloud_cover_pct <= ?", max_cloud_pct)):
            if value is not None and value != "":
                sql += clause
                params.append(value)
        rows = await self._read(sql + " ORDER BY p.date DESC NULLS LAST, p.time DESC NULLS LAST LIMIT ?",
                                [*params, limit])
        return [dict(r) for r in rows]

    async def telescope_counts(self, source: str) -> list[dict[str, Any]]:
        """Items in the library per object × telescope × format."""
        rows = await self._read(
            "SELECT json_extract(metadata, '$.object') AS object, json_extract(metadata, '$.telescope')"
            " AS telescope, json_extract(metadata, '$.format') AS format, COUNT(*) AS n FROM items"
            f" WHERE source = ? AND status IN {DONE_STATUSES} GROUP BY 1, 2, 3"
            " ORDER BY 1 NULLS FIRST, 2 NULLS FIRST, 3 NULLS FIRST", (source,))
        return [dict(r) for r in rows]

    async def items_of_object(self, source: str, obj: str, limit: int) -> list[dict[str, Any]]:
        """The library items of one object, newest first: id, key, path, captured_at, metadata."""
        rows = await self._read(
            "SELECT id, key, path, captured_at, metadata FROM items WHERE source = ?"
            f" AND json_extract(metadata, '$.object') = ? AND status IN {DONE_STATUSES}"
            " ORDER BY captured_at DESC NULLS LAST LIMIT ?", (source, obj, limit))
        return [{**dict(r), "metadata": json.loads(r["metadata"])} for r in rows]

    async def failed_list(self, source: str | None, code: str | None, limit: int) -> list[dict[str, Any]]:
        """Failed items, newest first: id, source, key, error_code, last_error, attempts, updated_at."""
        sql = ("SELECT id, source, key, error_code, last_error, attempts, updated_at FROM items"
               " WHERE status = 'failed'")
        params: list[Any] = []
        if source:
            sql += " AND source = ?"
            params.append(source)
        if code:
            sql += " AND error_code = ?"
            params.append(code)
        rows = await self._read(sql + " ORDER BY updated_at DESC LIMIT ?", [*params, limit])
        return [dict(r) for r in rows]

    async def retry_failed(self, item_id: int | None = None, source: str | None = None,
                           code: str | None = None) -> int:
        """Failed items (one by id, or of a source and/or error code) back to ``discovered``
        with a fresh attempt budget; returns how many."""
        sql = ("UPDATE items SET status = 'discovered', attempts = 0, next_attempt_at = NULL,"
               " error_code = NULL, updated_at = ? WHERE status = 'failed'")
        params: list[Any] = [utc_now_iso()]
        filters = ((" AND id = ?", item_id), (" AND source = ?", source), (" AND error_code = ?", code))
        for clause, value in filters:
            if value is not None:
                sql += clause
                params.append(value)
        async with self._tx() as db:
            cur = await db.execute(sql, params)
            if cur.rowcount:
                await self._notify(db, "items")
            return cur.rowcount

    async def last_run_per_source(self) -> dict[str, dict[str, Any]]:
        """The newest run of each source: started_at, finished_at, status, total, new, failed."""
        rows = await self._read(
            "SELECT r.source, r.trigger, r.started_at, r.finished_at, r.status, r.total, r.new, r.duplicates,"
            " r.failed FROM runs r WHERE r.id = (SELECT MAX(id) FROM runs x WHERE x.source = r.source)")
        return {r["source"]: dict(r) for r in rows}
