"""Batch writes that run whole in the database thread (:meth:`StoreBase._in_thread`): one
call per batch instead of a thread hop per statement (issue 13)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence

from daemon.store.models import NewItem, ResultOutput

_METADATA_JSON = json.JSONEncoder(sort_keys=True)  # one encoder, not one per row
metadata_json = _METADATA_JSON.encode


@functools.lru_cache(maxsize=64)
def _processors_json(processors: tuple[str, ...]) -> str:
    """A processors list as JSON (a handful of distinct lists: encoded once each)."""
    return json.dumps(list(processors))


def item_rows(source: str, items: Sequence[NewItem], now: str) -> list[tuple[str | None, ...]]:
    """``items`` as rows of the 13 columns (source, key, url, captured_at, metadata,
    processors, path, checksum, status, error_code, last_error, created_at, updated_at)."""
    return [
        (
            source,
            it.key,
            it.url,
            it.captured_at.isoformat(timespec="seconds")[:19] + "Z",  # as strftime("%Y-%m-%dT%H:%M:%SZ")
            _METADATA_JSON.encode(it.metadata),
            _processors_json(it.processors),
            it.path,
            it.checksum,
            "failed" if it.error else "discovered",
            it.error[0] if it.error else None,
            it.error[1][:2000] if it.error else None,
            now,
            now,
        )
        for it in items
    ]


_COLUMNS = 13
_INSERT = ("INSERT INTO items (source, key, url, captured_at, metadata, processors, path, checksum, status,"
           " error_code, last_error, created_at, updated_at) VALUES ")
_ROW = "(" + ",".join("?" * _COLUMNS) + ")"
MAX_ROWS_PER_STATEMENT = 500


def rows_per_statement(conn: sqlite3.Connection) -> int:
    """Rows of one multi-row INSERT: at most 500, and within this SQLite's variable limit
    (32,766 since 3.32, 999 before; ``SQLITE_LIMIT_VARIABLE_NUMBER``)."""
    return max(1, min(MAX_ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _COLUMNS))


def insert_items(conn: sqlite3.Connection, source: str, items: Sequence[NewItem], now: str) -> set[str]:
    """Insert ``items`` (in the database thread, inside the caller's transaction); returns
    the keys that were not there before.

    Multi-row ``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING key`` statements
    (:func:`rows_per_statement` rows each): ~1.7× the rows per second of ``executemany`` of
    one-row statements here (one statement step per chunk instead of a Python round per row),
    and ``RETURNING`` names exactly the rows inserted (no separate read of the keys present).
    """
    rows = item_rows(source, items, now)
    per = rows_per_statement(conn)
    inserted: set[str] = set()
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        sql = _INSERT + ",".join([_ROW] * len(chunk)) + " ON CONFLICT (source, key) DO NOTHING RETURNING key"
        inserted.update(r[0] for r in conn.execute(sql, [value for row in chunk for value in row]))
    return inserted


_ALL_DONE = (" AND status IN ('downloaded', 'uploaded', 'processing') AND NOT EXISTS (SELECT 1"
             " FROM results r WHERE r.item_id = items.id AND r.status IN ('pending', 'processing'))")
# items whose results are all done become processed: every such item (an idle worker's sweep,
# one pass over the items waiting for results), or the items of some results (per completion:
# a backlog of 100,000 downloaded items must not be scanned once per result — issue 13)
SETTLE_ITEMS = "UPDATE items SET status = 'processed', updated_at = ? WHERE true" + _ALL_DONE
SETTLE_ITEMS_OF_RESULTS = (
    "UPDATE items SET status = 'processed', updated_at = ? WHERE id IN (SELECT item_id FROM results"
    " WHERE id IN (SELECT value FROM json_each(?)))" + _ALL_DONE
)


def complete_results(conn: sqlite3.Connection, owner: str, done: list[tuple[int, ResultOutput, float]],
                     iso: str) -> list[bool]:
    """Record processor outputs ``(result_id, output, duration_ms)`` held by ``owner`` and
    settle their items (in the database thread, inside the caller's transaction); per
    result, False when the lease was lost."""
    recorded = []
    for result_id, out, duration_ms in done:
        cur = conn.execute(
            "UPDATE results SET status = 'completed', output = ?, octas = ?,"
            " cloud_fraction = ?, model = ?, model_version = ?, duration_ms = ?, error = NULL,"
            " lease_owner = NULL, lease_until = NULL, updated_at = ?"
            " WHERE id = ? AND lease_owner = ? AND status = 'processing'",
            (_METADATA_JSON.encode(out.output), out.octas, out.cloud_fraction, out.model,
             out.model_version, duration_ms, iso, result_id, owner),
        )
        recorded.append(cur.rowcount == 1)
    conn.execute(SETTLE_ITEMS_OF_RESULTS, (iso, json.dumps([result_id for result_id, _, _ in done])))
    return recorded
