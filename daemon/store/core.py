"""Queries on items, results and runs that both engines share (see :mod:`daemon.store.base`).

Work is claimed with a lease (owner + ``lease_until`` in Unix seconds): a row whose lease
expired belongs to nobody and is claimed again, and every completion is conditional on
the lease owner, so a crash loses nothing and a stale worker doubles nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from daemon.store.base import StoreBase, Tx
from daemon.store.batches import SETTLE_ITEMS, SETTLE_ITEMS_OF_RESULTS
from daemon.store.dialect import SqlList
from daemon.store.models import ClaimedResult, Item, NewItem, ResultOutput, RunCounts, utc_now_iso
from daemon.store.reports import DONE_STATUSES
from daemon.store.rows import ErrorRow, ItemCountRow, ResultCountRow, RunRow, StatusCounts

ADD_BATCH = 1000  # rows per add_items transaction


class CoreQueries(StoreBase):
    """Items in, results claimed and completed, runs opened and closed, counts out.

    Engines supply :meth:`_add_batch`, :meth:`complete_results` (batch writes) and the
    claim statements :meth:`_claim_results_sql` (the SQL differs: SQLite's single writer vs
    PostgreSQL's ``FOR UPDATE SKIP LOCKED``).
    """

    async def add_items(self, source: str, items: Iterable[NewItem]) -> set[str]:
        """Insert items, ignoring (source, key) already present. Returns the keys inserted.

        Written in transactions of :data:`ADD_BATCH` rows, each one round trip to the
        database: a year of slots never holds the store (and every other component waiting on
        it) for more than one batch. A cancelled call stops between batches; the batch under
        way completes whole (inserts are idempotent: the next run finds those keys stored).
        """
        inserted: set[str] = set()
        batch: list[NewItem] = []
        for it in items:
            batch.append(it)
            if len(batch) >= ADD_BATCH:
                inserted |= await self._add_batch(source, batch)
                batch = []
        if batch:
            inserted |= await self._add_batch(source, batch)
        return inserted

    async def _add_batch(self, source: str, items: Sequence[NewItem]) -> set[str]:
        raise NotImplementedError

    async def complete_results(self, owner: str, done: Sequence[tuple[int, ResultOutput, float]]) -> list[bool]:
        """Record several outputs ``(result_id, output, duration_ms)`` in one transaction (one
        round trip); per result, False when ``owner`` lost its lease."""
        raise NotImplementedError

    def _claim_results_sql(self, only_source: str) -> str:
        """The statement leasing results: named parameters owner, until, iso, now, limit
        (and source); returns id, item_id, processor, attempts."""
        raise NotImplementedError

    async def item_states(self, source: str, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """``key → (status, error_code)`` for the given keys of ``source`` that exist."""
        rows = await self._read(
            "SELECT key, status, error_code FROM items WHERE source = ?"
            " AND key IN (SELECT value FROM json_each(?))",
            (source, SqlList(keys)),
        )
        return {r["key"]: (r["status"], r["error_code"]) for r in rows}

    async def requeue_failed(
        self, source: str, keys: Sequence[str], error_codes: Sequence[str] | None = None
    ) -> int:
        """Move failed items (optionally only those with ``error_codes``) back to discovered."""
        sql = (
            "UPDATE items SET status = 'discovered', next_attempt_at = NULL, updated_at = ?"
            " WHERE source = ? AND status = 'failed' AND key IN (SELECT value FROM json_each(?))"
        )
        params: list[Any] = [utc_now_iso(), source, SqlList(keys)]
        if error_codes is not None:
            sql += " AND error_code IN (SELECT value FROM json_each(?))"
            params.append(SqlList(error_codes))
        async with self._tx() as db:
            cur = await db.execute(sql, params)
            if cur.rowcount:
                await self._notify(db, "items")
            return cur.rowcount

    # ---------------------------------------------------------------- results
    async def claim_results(
        self, owner: str, limit: int, lease_s: float, max_attempts: int, source: str | None = None
    ) -> list[ClaimedResult]:
        """Lease pending results (or ones whose lease expired); give up past ``max_attempts``.

        With ``source``, only results of that source's items are claimed.
        """
        now = time.time()
        iso = utc_now_iso()
        only_source = (
            " AND item_id IN (SELECT id FROM items WHERE source = :source)" if source else ""
        )
        async with self._tx() as db:
            async with db.execute(
                "UPDATE results SET status = 'failed', lease_owner = NULL, lease_until = NULL,"
                " error = 'gave up after ' || attempts || ' attempts (lease expired each time)',"
                " updated_at = ? WHERE status = 'processing' AND lease_until < ? AND attempts >= ?"
                " RETURNING id",
                (iso, now, max_attempts),
            ) as cur:
                given_up = [r[0] for r in await cur.fetchall()]
            async with db.execute(
                self._claim_results_sql(only_source),
                {"owner": owner, "until": now + lease_s, "iso": iso, "now": now,
                 "limit": limit, "source": source},
            ) as cur:
                claimed = list(await cur.fetchall())
            if not claimed:  # idle: one sweep for items whose results were settled elsewhere
                await db.execute(SETTLE_ITEMS, (iso,))
                return []
            ids = SqlList(r["item_id"] for r in claimed)
            await db.execute(
                "UPDATE items SET status = 'processing', updated_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('downloaded', 'uploaded')",
                (iso, ids),
            )
            async with db.execute(
                "SELECT * FROM items WHERE id IN (SELECT value FROM json_each(?))", (ids,)
            ) as cur:
                items = {r["id"]: Item.from_row(r) for r in await cur.fetchall()}
            if given_up:
                await self._settle_items(db, iso, given_up)
        return [
            ClaimedResult(r["id"], r["processor"], r["attempts"], items[r["item_id"]])
            for r in claimed
        ]

    @staticmethod
    async def _settle_items(db: Tx, iso: str, result_ids: Sequence[int]) -> None:
        await db.execute(SETTLE_ITEMS_OF_RESULTS, (iso, SqlList(result_ids)))

    async def complete_result(self, result_id: int, owner: str, out: ResultOutput, duration_ms: float) -> bool:
        """Record a processor's output; False when ``owner`` lost the lease meanwhile."""
        return (await self.complete_results(owner, [(result_id, out, duration_ms)]))[0]

    async def fail_result(self, result_id: int, owner: str, error: str) -> bool:
        """Record a processor failure with its reason (final)."""
        iso = utc_now_iso()
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE results SET status = 'failed', error = ?, lease_owner = NULL,"
                " lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?"
                " AND status = 'processing'",
                (error[:2000], iso, result_id, owner),
            )
            await self._settle_items(db, iso, [result_id])
            return cur.rowcount == 1

    async def release_results(self, owner: str) -> int:
        """Give back every result lease held by ``owner`` (graceful stop)."""
        iso = utc_now_iso()
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE results SET status = 'pending', lease_owner = NULL, lease_until = NULL,"
                " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ?"
                " WHERE lease_owner = ? AND status = 'processing'",
                (iso, owner),
            )
            if cur.rowcount:
                await self._notify(db, "results")
            await db.execute(
                "UPDATE items SET status = 'downloaded', updated_at = ? WHERE status = 'processing'"
                " AND NOT EXISTS (SELECT 1 FROM results r WHERE r.item_id = items.id"
                " AND r.status = 'processing')",
                (iso,),
            )
            return cur.rowcount

    async def renew_leases(self, owner: str, lease_s: float) -> int:
        """Extend every lease ``owner`` holds (items and results) to now + ``lease_s``."""
        until = time.time() + lease_s
        async with self._tx() as db:
            a = await db.execute(
                "UPDATE items SET lease_until = ? WHERE lease_owner = ? AND status = 'downloading'",
                (until, owner),
            )
            b = await db.execute(
                "UPDATE results SET lease_until = ? WHERE lease_owner = ? AND status = 'processing'",
                (until, owner),
            )
            return a.rowcount + b.rowcount

    async def lease_owners(self) -> set[str]:
        """Owners holding a live or expired lease on any item or result."""
        rows = await self._read(
            "SELECT lease_owner FROM items WHERE status = 'downloading' AND lease_owner IS NOT NULL"
            " UNION SELECT lease_owner FROM results WHERE status = 'processing'"
            " AND lease_owner IS NOT NULL"
        )
        return {r[0] for r in rows}

    # ---------------------------------------------------------------- runs & reports
    async def start_run(self, source: str, trigger: str) -> int:
        """Open a ``runs`` row owned by this process (``host:pid:run``); returns its id."""
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO runs (source, trigger, started_at, owner) VALUES (?, ?, ?, ?) RETURNING id",
                (source, trigger, utc_now_iso(), self.run_owner),
            )
            return int((await cur.fetchone())[0])

    async def finish_run(self, run_id: int, counts: RunCounts, status: str, error: str | None = None) -> None:
        """Close a ``runs`` row with its counts and outcome (``ok`` | ``failed`` | ``interrupted``)."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, total = ?, new = ?, duplicates = ?,"
                " failed = ?, error = ? WHERE id = ?",
                (utc_now_iso(), status, counts.total, counts.new, counts.duplicates,
                 counts.failed, error, run_id),
            )

    async def close_own_runs(self) -> int:
        """Close as ``interrupted`` the runs this store opened that are still ``running``.

        The last word of a process's resources: a run cancelled at stop inside its own
        ``start_run`` (the row committed, its id never returned) or again while its
        ``finish_run`` was shielded would otherwise stay ``running`` under a live owner.
        Returns how many were closed.
        """
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?,"
                " error = 'the process stopped before the run ended'"
                " WHERE status = 'running' AND owner = ?",
                (utc_now_iso(), self.run_owner),
            )
            return cur.rowcount

    async def close_orphan_runs(self, is_dead: Callable[[str], bool]) -> int:
        """Close as ``interrupted`` every ``running`` run whose owner ``is_dead`` (a killed
        daemon or backfill). Returns how many were closed."""
        rows = await self._read(
            "SELECT DISTINCT owner FROM runs WHERE status = 'running' AND owner IS NOT NULL")
        dead = [r["owner"] for r in rows if is_dead(r["owner"])]
        if not dead:
            return 0
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?,"
                " error = 'its process was killed or crashed before the run ended'"
                " WHERE status = 'running' AND owner IN (SELECT value FROM json_each(?))",
                (utc_now_iso(), SqlList(dead)),
            )
            return cur.rowcount

    async def status_counts(self) -> StatusCounts:
        """Counts per (source, status) of items and per (processor, status) of results."""
        items = await self._read(
            "SELECT source, status, COUNT(*) AS n FROM items GROUP BY source, status ORDER BY 1, 2"
        )
        results = await self._read(  # results carry their item's source (migration 0010)
            "SELECT source, processor, status, COUNT(*) AS n FROM results GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        return {"items": [cast(ItemCountRow, dict(r)) for r in items],
                "results": [cast(ResultCountRow, dict(r)) for r in results]}

    async def last_errors(self, limit: int = 10) -> list[ErrorRow]:
        """Most recent failures of items (final, or waiting to be retried) and results, newest first."""
        rows = await self._read(
            "SELECT * FROM (SELECT source, key, CASE status WHEN 'failed' THEN 'download'"
            " ELSE 'download, will retry' END AS stage, last_error AS error,"
            " updated_at FROM items WHERE status = 'failed'"
            " OR (status = 'discovered' AND error_code IS NOT NULL) UNION ALL"
            " SELECT i.source, i.key, r.processor, r.error, r.updated_at FROM results r"
            " JOIN items i ON i.id = r.item_id WHERE r.status = 'failed') AS e"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )
        return [cast(ErrorRow, dict(r)) for r in rows]

    async def last_runs(self, limit: int = 10) -> list[RunRow]:
        """Most recent ``runs`` rows, newest first, each with what became of the items it
        queued: ``items_done`` (downloaded or further), ``items_failed``, ``items_waiting``
        (not downloaded yet, retries included)."""
        rows = await self._read(
            "SELECT r.*,"
            " (SELECT COUNT(*) FROM items i WHERE i.run_id = r.id"
            f"  AND i.status IN {DONE_STATUSES}) AS items_done,"
            " (SELECT COUNT(*) FROM items i WHERE i.run_id = r.id AND i.status = 'failed') AS items_failed,"
            " (SELECT COUNT(*) FROM items i WHERE i.run_id = r.id"
            "  AND i.status IN ('discovered', 'downloading')) AS items_waiting"
            " FROM runs r ORDER BY r.id DESC LIMIT ?", (limit,))
        return [cast(RunRow, dict(r)) for r in rows]

    async def assign_run(self, source: str, keys: Sequence[str], run_id: int) -> None:
        """Record ``run_id`` as the run that queued these items of ``source``."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE items SET run_id = ? WHERE source = ? AND key IN (SELECT value FROM json_each(?))",
                (run_id, source, SqlList(keys)))

    async def result_rows(self, source: str) -> list[dict[str, Any]]:
        """Every result of ``source`` joined with its item key (reports and tests)."""
        rows = await self._read(
            "SELECT i.key, i.path, i.status AS item_status, r.* FROM results r"
            " JOIN items i ON i.id = r.item_id WHERE i.source = ? ORDER BY i.key",
            (source,),
        )
        return [dict(r) for r in rows]

    async def busy_counts(self) -> dict[str, int]:
        """How many items are ``downloading`` and results ``processing`` right now."""
        rows = await self._read(
            "SELECT (SELECT COUNT(*) FROM items WHERE status = 'downloading'),"
            " (SELECT COUNT(*) FROM results WHERE status = 'processing'),"
            " (SELECT COUNT(*) FROM results WHERE status = 'pending')"
        )
        return {"downloading": rows[0][0], "processing": rows[0][1], "pending": rows[0][2]}
