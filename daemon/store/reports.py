"""Per-source state between runs, and the queries behind ``harvestd retry`` / ``harvestd stats``."""

from __future__ import annotations

import json
from typing import Any, cast

from daemon.store.base import StoreBase
from daemon.store.dialect import SqlList
from daemon.store.models import utc_now_iso
from daemon.store.rows import FailedItemRow, FailureCountRow, ItemStatsRow, RunStatsRow, SourceHealthRow

DONE_STATUSES = "('downloaded', 'processing', 'processed', 'uploaded')"  # SQL: the file is in the library


def _where_source(source: str | None, column: str = "source") -> tuple[str, list[Any]]:
    return (f" AND {column} = ?", [source]) if source is not None else ("", [])


class ReportQueries(StoreBase):
    """``source_state`` rows, failed-item requeueing and statistics."""

    async def source_state(self, source: str) -> dict[str, Any]:
        """Every saved state value of ``source``: name → JSON value."""
        rows = await self._read("SELECT name, value FROM source_state WHERE source = ?", (source,))
        return {r["name"]: json.loads(r["value"]) for r in rows}

    async def save_source_state(self, source: str, values: dict[str, Any]) -> None:
        """Insert or replace the given state values of ``source`` (one transaction)."""
        now = utc_now_iso()
        async with self._tx() as db:
            for name, value in values.items():
                await db.execute(
                    "INSERT INTO source_state (source, name, value, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (source, name) DO UPDATE SET value = excluded.value,"
                    " updated_at = excluded.updated_at",
                    (source, name, json.dumps(value), now))

    async def failed_items(self, source: str | None = None,
                           error_codes: list[str] | None = None) -> list[FailedItemRow]:
        """Failed items (of ``source``; with one of ``error_codes``): source, key, url, path,
        captured_at, checksum, error_code, last_error, attempts."""
        where, params = _where_source(source)
        sql = ("SELECT source, key, url, path, captured_at, checksum, error_code, last_error, attempts"
               " FROM items"
               f" WHERE status = 'failed'{where}")
        if error_codes:
            sql += " AND error_code IN (SELECT value FROM json_each(?))"
            params.append(SqlList(error_codes))
        return [cast(FailedItemRow, dict(r)) for r in await self._read(sql + " ORDER BY source, key", params)]

    async def requeue_items(self, source: str, keys: list[str]) -> int:
        """Failed items of ``source`` back to ``discovered`` with a fresh attempt budget
        (``harvestd retry``); returns how many moved."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE items SET status = 'discovered', attempts = 0, next_attempt_at = NULL,"
                " error_code = NULL, updated_at = ? WHERE source = ? AND status = 'failed'"
                " AND key IN (SELECT value FROM json_each(?))",
                (utc_now_iso(), source, SqlList(keys)))
            if cur.rowcount:
                await self._notify(db, "items")
            return cur.rowcount

    async def item_stats(self, source: str | None = None) -> list[ItemStatsRow]:
        """Per source: items, done, failed, waiting, bytes and the last download (UTC ISO)."""
        where, params = _where_source(source)
        rows = await self._read(
            "SELECT source, COUNT(*) AS items,"
            f" COUNT(*) FILTER (WHERE status IN {DONE_STATUSES}) AS done,"
            " COUNT(*) FILTER (WHERE status = 'failed') AS failed,"
            " COUNT(*) FILTER (WHERE status IN ('discovered', 'downloading')) AS waiting,"
            f" COALESCE(SUM(CASE WHEN status IN {DONE_STATUSES} THEN bytes END), 0) AS bytes,"
            f" MAX(CASE WHEN status IN {DONE_STATUSES} THEN updated_at END) AS last_download"
            f" FROM items WHERE 1 = 1{where} GROUP BY source ORDER BY source", params)
        return [cast(ItemStatsRow, dict(r)) for r in rows]

    async def failure_codes(self, source: str | None = None) -> list[FailureCountRow]:
        """Per source and error code: how many items failed."""
        where, params = _where_source(source)
        rows = await self._read(
            "SELECT source, COALESCE(error_code, '?') AS code, COUNT(*) AS n FROM items"
            f" WHERE status = 'failed'{where} GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2", params)
        return [cast(FailureCountRow, dict(r)) for r in rows]

    async def source_health(self) -> list[SourceHealthRow]:
        """Per source: ``last_success_at`` (UTC ISO, the latest item downloaded, processed or
        uploaded), ``failed`` (final failures since then), ``retrying`` (items waiting for
        another attempt, with the earliest ``next_attempt_at`` in Unix seconds),
        ``failing_since`` (the first of those problems, UTC ISO) and the latest error
        (``last_error_code``, ``last_error``, ``last_error_at``)."""
        rows = await self._read(
            "WITH ok AS (SELECT source, MAX(updated_at) AS at FROM items"
            f"  WHERE status IN {DONE_STATUSES} GROUP BY source),"
            " bad AS (SELECT i.* FROM items i LEFT JOIN ok ON ok.source = i.source"
            "  WHERE (i.status = 'failed' OR (i.status = 'discovered' AND i.error_code IS NOT NULL))"
            "  AND (ok.at IS NULL OR i.updated_at > ok.at)),"
            " latest AS (SELECT source, error_code, last_error, updated_at,"
            "  ROW_NUMBER() OVER (PARTITION BY source ORDER BY updated_at DESC, id DESC) AS n FROM bad)"
            " SELECT s.source, ok.at AS last_success_at,"
            "  (SELECT COUNT(*) FROM bad b WHERE b.source = s.source AND b.status = 'failed') AS failed,"
            "  (SELECT COUNT(*) FROM bad b WHERE b.source = s.source AND b.status = 'discovered') AS retrying,"
            "  (SELECT MIN(next_attempt_at) FROM bad b WHERE b.source = s.source"
            "   AND b.status = 'discovered') AS next_attempt_at,"
            "  (SELECT MIN(updated_at) FROM bad b WHERE b.source = s.source) AS failing_since,"
            "  l.error_code AS last_error_code, l.last_error, l.updated_at AS last_error_at"
            " FROM (SELECT DISTINCT source FROM items) s LEFT JOIN ok ON ok.source = s.source"
            " LEFT JOIN latest l ON l.source = s.source AND l.n = 1 ORDER BY s.source")
        return [cast(SourceHealthRow, dict(r)) for r in rows]

    async def run_stats(self, source: str | None = None) -> list[RunStatsRow]:
        """Per source and trigger: runs (sessions), failed runs, the last start (UTC ISO)."""
        where, params = _where_source(source)
        rows = await self._read(
            "SELECT source, trigger, COUNT(*) AS runs, COUNT(*) FILTER (WHERE status = 'failed') AS failed,"
            f" MAX(started_at) AS last_started FROM runs WHERE 1 = 1{where}"
            " GROUP BY 1, 2 ORDER BY 1, 2", params)
        return [cast(RunStatsRow, dict(r)) for r in rows]

    async def item_paths(self, source: str | None = None) -> list[str]:
        """Library paths of the downloaded items (for folder statistics)."""
        where, params = _where_source(source)
        rows = await self._read(
            f"SELECT path FROM items WHERE path IS NOT NULL AND status IN {DONE_STATUSES}{where}", params)
        return [r["path"] for r in rows]
