"""SQLite store (aiosqlite): the default, embedded engine (one file, one writer).

One connection, one writer: every statement runs under an :class:`asyncio.Lock` and every
write is one ``BEGIN IMMEDIATE`` transaction, so concurrent coroutines never interleave
into each other's transactions. WAL + ``synchronous=NORMAL`` + ``busy_timeout`` let a
second process (``harvestd backfill`` / ``status`` beside the daemon) share the file.
Schema changes are numbered ``migrations/NNNN_*.sql`` files tracked in
``PRAGMA user_version`` (SQLite manual, "PRAGMA user_version"; "Write-Ahead Logging").

The queries themselves are shared with the PostgreSQL engine (:mod:`daemon.store.core` and
the other query groups); this module holds what is SQLite's own: opening, migrations,
batch writes in the database thread and the claim statements (planner hints).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from importlib import resources
from pathlib import Path

import aiosqlite

from daemon.store.batches import complete_results, insert_items
from daemon.store.damage import QUICK_CHECK_ERRORS, StoreDamaged, is_damage, quick_check_rows
from daemon.store.models import NewItem, ResultOutput, utc_now_iso
from daemon.store.sqlite_conn import SqliteBase
from daemon.store.store import Store


def _migrations(folder_name: str = "migrations") -> list[tuple[int, str]]:
    """The numbered migrations of ``daemon/store/{folder_name}``: (number, SQL) in order."""
    folder = resources.files("daemon.store") / folder_name
    steps = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            steps.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(steps)


class SqliteStore(SqliteBase, Store):
    """The harvestd database in SQLite. Use ``async with SqliteStore.open(path) as store``."""

    engine = "sqlite"

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path, busy_timeout_ms: int = 5000) -> AsyncIterator[SqliteStore]:
        """Open (creating folders and schema as needed) and close on exit.

        A bounded ``PRAGMA quick_check`` runs first: a damaged file is refused, never used.

        Raises:
            StoreDamaged: the file is damaged (truncated, garbled, not SQLite).
            sqlite3.Error: the file cannot be opened or migrated.
        """
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            try:
                conn.row_factory = aiosqlite.Row
                await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                await conn.execute("PRAGMA journal_mode=WAL")
                await conn.execute("PRAGMA synchronous=NORMAL")
                await conn.execute("PRAGMA foreign_keys=ON")
                rows = await conn.execute_fetchall(f"PRAGMA quick_check({QUICK_CHECK_ERRORS})")
                if (problems := quick_check_rows(list(rows))) is not None:
                    raise StoreDamaged(path, problems)
                store = cls(conn, path)
                await store._migrate()
            except sqlite3.DatabaseError as exc:
                if is_damage(exc):
                    raise StoreDamaged(path, str(exc)) from None
                raise
            yield store
        finally:
            with suppress(Exception):
                await conn.execute("PRAGMA optimize")
            await conn.close()

    async def _migrate(self) -> None:
        async with self._tx() as db:
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = row[0] if row else 0
            for number, sql in await asyncio.to_thread(_migrations):
                if number > version:
                    await db.executescript_in_tx(sql)
                    await db.execute(f"PRAGMA user_version={number}")

    async def schema_version(self) -> int:
        """``PRAGMA user_version``: the number of the last applied migration."""
        rows = await self._read("PRAGMA user_version")
        return int(rows[0][0])

    async def ping(self) -> None:
        """A write round-trip; raises ``sqlite3.Error`` when the store is not writable."""
        async with self._tx() as db:
            await db.execute("CREATE TEMP TABLE IF NOT EXISTS _ping (x)")

    # ---------------------------------------------------------------- engine-specific
    async def _add_batch(self, source: str, items: Sequence[NewItem]) -> set[str]:
        # one call into the database thread per batch: rows built, keys already present read,
        # one executemany, BEGIN … COMMIT — all inside it (issue 13: 0.06× of the database's
        # speed with one thread hop per row; see SqliteBase._in_thread)
        return await self._in_thread(insert_items, source, items, utc_now_iso())

    async def complete_results(self, owner: str, done: Sequence[tuple[int, ResultOutput, float]]) -> list[bool]:
        """Record several outputs ``(result_id, output, duration_ms)`` in one transaction (one
        call into the database thread); per result, False when ``owner`` lost its lease."""
        return await self._in_thread(complete_results, owner, list(done), utc_now_iso())

    def _claim_results_sql(self, only_source: str) -> str:
        return (
            "UPDATE results SET status = 'processing', lease_owner = :owner,"
            " lease_until = :until, attempts = attempts + 1, updated_at = :iso"
            # two branches, each read in id order from an index and cut at LIMIT
            " WHERE id IN (SELECT id FROM (SELECT * FROM (SELECT id FROM results"
            " WHERE status = 'pending'" + only_source + " ORDER BY id LIMIT :limit)"
            " UNION ALL SELECT * FROM (SELECT id FROM results WHERE status = 'processing'"
            " AND lease_until < :now" + only_source + " ORDER BY id LIMIT :limit))"
            " ORDER BY id LIMIT :limit) RETURNING id, item_id, processor, attempts"
        )

    def _claim_items_sql(self, only_source: str) -> str:
        return (
            "UPDATE items SET status = 'downloading', lease_owner = :owner,"
            " lease_until = :until, attempts = attempts + 1, updated_at = :iso"
            # two branches, each read in claim order from its own index and cut at LIMIT
            " WHERE id IN (SELECT id FROM ("
            " SELECT * FROM (SELECT id, captured_at FROM items INDEXED BY items_discovered"
            " WHERE status = 'discovered'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= :now)" + only_source
            + " ORDER BY captured_at, id LIMIT :limit)"
            " UNION ALL SELECT * FROM (SELECT id, captured_at FROM items WHERE status = 'downloading'"
            " AND lease_until < :now" + only_source + " ORDER BY captured_at, id LIMIT :limit))"
            " ORDER BY captured_at, id LIMIT :limit) RETURNING *"
        )
