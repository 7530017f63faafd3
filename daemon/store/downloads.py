"""Download queries: claiming items with a lease, finishing, retrying, live transfer progress,
and items that arrive already in the library (uploads).

Every completion is conditional on the lease owner (see :mod:`daemon.store.core`). Statements
the PostgreSQL engine cannot take from SQLite's text are class attributes it overrides.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, cast

from daemon.store.base import StoreBase
from daemon.store.dialect import SqlList
from daemon.store.models import Downloaded, Item, Transfer, utc_now_iso
from daemon.store.rows import TransferRow


class DownloadQueries(StoreBase):
    """Item lifecycle for downloaders: discovered → downloading → downloaded | failed."""

    #: record finished downloads: parameters (updated_at, JSON array of {id, path, bytes,
    #: sha256}, owner); returns the ids recorded
    _MARK_DOWNLOADED_SQL = (
        "UPDATE items SET status = CASE WHEN processors = '[]' THEN 'processed'"
        " ELSE 'downloaded' END, path = d.path, bytes = d.bytes, sha256 = d.sha256,"
        " error_code = NULL, last_error = NULL, lease_owner = NULL, lease_until = NULL,"
        " updated_at = ? FROM (SELECT json_extract(value, '$.id') AS id,"
        " json_extract(value, '$.path') AS path, json_extract(value, '$.bytes') AS bytes,"
        " json_extract(value, '$.sha256') AS sha256 FROM json_each(?)) AS d"
        " WHERE items.id = d.id AND items.lease_owner = ? AND items.status = 'downloading'"
        " RETURNING items.id"
    )
    #: one pending result per processor of the given items: (created_at, updated_at, ids)
    _QUEUE_RESULTS_SQL = (
        "INSERT INTO results (item_id, source, processor, created_at, updated_at)"
        " SELECT i.id, i.source, p.value, ?, ? FROM items i, json_each(i.processors) p"
        " WHERE i.id IN (SELECT value FROM json_each(?)) ON CONFLICT (item_id, processor)"
        " DO UPDATE SET status = 'pending', attempts = 0, error = NULL,"
        " updated_at = excluded.updated_at"
    )

    def _claim_items_sql(self, only_source: str) -> str:
        """The statement leasing items: named parameters owner, until, iso, now, limit (and
        source); returns the claimed rows (``*``)."""
        raise NotImplementedError

    async def claim_items(
        self, owner: str, limit: int, lease_s: float, source: str | None = None
    ) -> list[Item]:
        """Lease up to ``limit`` discovered items (or ones whose download lease expired)."""
        now = time.time()
        sql = self._claim_items_sql(" AND source = :source" if source else "")
        params = {
            "owner": owner,
            "until": now + lease_s,
            "iso": utc_now_iso(),
            "now": now,
            "limit": limit,
            "source": source,
        }
        async with self._tx() as db, db.execute(sql, params) as cur:
            return [Item.from_row(r) for r in await cur.fetchall()]

    async def mark_downloaded(
        self, item_id: int, owner: str, path: str, size_bytes: int, sha256: str
    ) -> bool:
        """Record a completed download and queue one pending result per processor.

        Returns False (and changes nothing) when ``owner`` no longer holds the lease.
        """
        done = await self.mark_downloaded_many(owner, [Downloaded(item_id, path, size_bytes, sha256)])
        return item_id in done

    async def mark_downloaded_many(self, owner: str, rows: Sequence[Downloaded]) -> set[int]:
        """:meth:`mark_downloaded` for many items in one transaction (a group commit).

        Returns the ids recorded; an item whose lease ``owner`` lost is left unchanged.
        """
        now = utc_now_iso()
        batch = json.dumps([{"id": r.item_id, "path": r.path, "bytes": r.size_bytes, "sha256": r.sha256}
                            for r in rows])
        async with self._tx() as db:
            async with db.execute(
                self._MARK_DOWNLOADED_SQL,
                (now, batch, owner),
            ) as cur:
                done = {r[0] for r in await cur.fetchall()}
            if not done:
                return done
            ids = SqlList(sorted(done))
            await db.execute("DELETE FROM transfers WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
            await db.execute(self._QUEUE_RESULTS_SQL, (now, now, ids))
            await self._notify(db, "results")
        return done

    async def mark_item_failed(self, item_id: int, owner: str, error_code: str, message: str) -> bool:
        """Final failure of a download (``error_code`` from :mod:`daemon.store.models`)."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE items SET status = 'failed', error_code = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND status = 'downloading'",
                (error_code, message[:2000], utc_now_iso(), item_id, owner),
            )
            await db.execute("DELETE FROM transfers WHERE item_id = ?", (item_id,))
            return cur.rowcount == 1

    async def release_items(self, owner: str, item_ids: Sequence[int] | None = None) -> int:
        """Give back download leases held by ``owner`` (all, or only ``item_ids``)."""
        sql = (
            "UPDATE items SET status = 'discovered', lease_owner = NULL, lease_until = NULL,"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ?"
            " WHERE lease_owner = ? AND status = 'downloading'"
        )
        params: list[Any] = [utc_now_iso(), owner]
        if item_ids is not None:
            sql += " AND id IN (SELECT value FROM json_each(?))"
            params.append(SqlList(item_ids))
        async with self._tx() as db:
            released = (await db.execute(sql, params)).rowcount
            if released:
                await self._notify(db, "items")
            return released

    async def claim_items_by_id(self, owner: str, item_ids: Sequence[int], lease_s: float,
                                source: str | None = None) -> list[Item]:
        """Lease exactly these items (of ``source``, if given) when free: discovered, or
        their lease expired. Used to adopt downloads aria2c resumed from its session file.
        """
        now = time.time()
        async with self._tx() as db, db.execute(
            "UPDATE items SET status = 'downloading', lease_owner = ?, lease_until = ?,"
            " attempts = attempts + 1, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))"
            " AND (status = 'discovered' OR (status = 'downloading' AND lease_until < ?))"
            " AND (CAST(? AS TEXT) IS NULL OR source = ?) RETURNING *",
            (owner, now + lease_s, utc_now_iso(), SqlList(item_ids), now, source, source),
        ) as cur:
            return [Item.from_row(r) for r in await cur.fetchall()]

    async def item_statuses(self, item_ids: Sequence[int]) -> dict[int, str]:
        """The status of each of ``item_ids`` that exists: id → status."""
        rows = await self._read(
            "SELECT id, status FROM items WHERE id IN (SELECT value FROM json_each(?))",
            (SqlList(item_ids),),
        )
        return {r[0]: r[1] for r in rows}

    async def items_in_flight(self, item_ids: Sequence[int]) -> dict[int, str]:
        """Which of ``item_ids`` someone is downloading (a live lease): id → lease owner."""
        rows = await self._read(
            "SELECT id, lease_owner FROM items WHERE id IN (SELECT value FROM json_each(?))"
            " AND status = 'downloading' AND lease_until >= ?",
            (SqlList(item_ids), time.time()),
        )
        return {r[0]: r[1] for r in rows}

    async def retry_item(self, item_id: int, owner: str, error_code: str, message: str,
                         delay_s: float) -> bool:
        """A transient failure: back to ``discovered``, claimable again after ``delay_s`` seconds.

        The error stays on the row (``last_error``) so ``status`` shows why it waits.
        """
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE items SET status = 'discovered', error_code = ?, last_error = ?,"
                " next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND status = 'downloading'",
                (error_code, message[:2000], time.time() + delay_s, utc_now_iso(), item_id, owner),
            )
            await db.execute("DELETE FROM transfers WHERE item_id = ?", (item_id,))
            return cur.rowcount == 1

    async def add_upload(self, source: str, key: str, path: str, size_bytes: int, sha256: str,
                         captured_at: str, metadata: dict[str, Any], processors: Sequence[str]) -> int:
        """An uploaded file already in the library: status ``uploaded``, one pending result per
        processor (the worker takes it from there). Returns the item id."""
        now = utc_now_iso()
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO items (source, key, url, captured_at, metadata, processors, status, path,"
                " bytes, sha256, created_at, updated_at)"
                " VALUES (?, ?, NULL, ?, ?, ?, 'uploaded', ?, ?, ?, ?, ?) RETURNING id",
                (source, key, captured_at, json.dumps(metadata, sort_keys=True), json.dumps(list(processors)),
                 path, size_bytes, sha256, now, now),
            )
            item_id = int((await cur.fetchone())[0])
            if processors:
                await db.execute(
                    "INSERT INTO results (item_id, source, processor, created_at, updated_at)"
                    " SELECT ?, ?, value, ?, ? FROM json_each(?)",
                    (item_id, source, now, now, SqlList(processors)),
                )
                await self._notify(db, "results")
        return item_id

    async def item_with_results(self, item_id: int) -> dict[str, Any] | None:
        """One item and its results (API), or None."""
        items = await self._read("SELECT * FROM items WHERE id = ?", (item_id,))
        if not items:
            return None
        item = dict(items[0])
        for key in ("metadata", "processors"):
            item[key] = json.loads(item[key] or "null")
        results = []
        for row in await self._read("SELECT * FROM results WHERE item_id = ? ORDER BY id", (item_id,)):
            result = dict(row)
            result["output"] = json.loads(result["output"]) if result["output"] else None
            results.append(result)
        item["results"] = results
        return item

    async def record_transfers(self, transfers: Sequence[Transfer]) -> None:
        """Upsert live progress rows; rows of items no longer downloading are dropped."""
        iso = utc_now_iso()
        async with self._tx() as db:
            for t in transfers:
                await db.execute(
                    "INSERT INTO transfers (item_id, gid, state, completed_bytes, total_bytes,"
                    " speed_bps, connections, updated_at) VALUES (?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (item_id) DO UPDATE SET gid = excluded.gid, state = excluded.state,"
                    " completed_bytes = excluded.completed_bytes, total_bytes = excluded.total_bytes,"
                    " speed_bps = excluded.speed_bps, connections = excluded.connections,"
                    " updated_at = excluded.updated_at",
                    (t.item_id, t.gid, t.state, t.completed_bytes, t.total_bytes, t.speed_bps,
                     t.connections, iso),
                )
            await db.execute(
                "DELETE FROM transfers WHERE item_id NOT IN"
                " (SELECT id FROM items WHERE status = 'downloading')"
            )

    async def transfers(self, limit: int = 20) -> list[TransferRow]:
        """Live transfers of items still downloading (largest first), joined with source/key."""
        rows = await self._read(
            "SELECT i.source, i.key, i.lease_owner AS owner, t.* FROM transfers t"
            " JOIN items i ON i.id = t.item_id"
            " WHERE i.status = 'downloading' ORDER BY t.total_bytes DESC, t.item_id LIMIT ?",
            (limit,),
        )
        return [cast(TransferRow, dict(r)) for r in rows]
