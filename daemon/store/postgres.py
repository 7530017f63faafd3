"""PostgreSQL store (psycopg 3 with a connection pool): for N daemons sharing one queue.

The same tables, statuses, leases and queries as SQLite (:mod:`daemon.store.core` and the
other query groups run unchanged, rewritten by :mod:`daemon.store.dialect`); what is
PostgreSQL's own lives here: the pool, numbered migrations (``migrations_pg/``, tracked in
``schema_migrations`` and applied under an advisory lock so N daemons starting together
migrate once), claims with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL 15 manual, SELECT, "The
Locking Clause": concurrent claimers skip rows another transaction holds instead of
waiting, and never take one row twice) and batch writes as single statements.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import PoolTimeout

from daemon.errors import StoreUnavailable
from daemon.store.base import Tx
from daemon.store.batches import SETTLE_ITEMS_OF_RESULTS, item_rows, metadata_json
from daemon.store.dialect import SqlList
from daemon.store.models import NewItem, ResultOutput, utc_now_iso
from daemon.store.pg_conn import PgBase, make_pool
from daemon.store.sqlite import _migrations
from daemon.store.store import Store

MIGRATION_LOCK = 0x68617276  # pg_advisory_xact_lock key ("harv")
log = structlog.get_logger("daemon.store")


def redacted(url: str) -> str:
    """``url`` without its password (for logs and ``status``)."""
    try:
        params = conninfo_to_dict(url)
    except Exception:
        return "postgresql://?"
    if "password" in params:
        params["password"] = "***"
    host = params.get("host", "")
    return f"postgresql://{params.get('user', '')}@{host}/{params.get('dbname', '')}"


class PgStore(PgBase, Store):
    """The harvestd database in PostgreSQL. Use ``async with PgStore.open(url) as store``."""

    engine = "postgresql"

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, pool_size: int = 4, timeout_s: float = 30.0) -> AsyncIterator[PgStore]:
        """Connect (a pool of up to ``pool_size`` connections), migrate, and close on exit.

        Raises:
            StoreUnavailable: the server cannot be reached or refuses the login, or no
                connection came within ``timeout_s`` seconds (the message names the server,
                never the password).
            psycopg.Error: a migration failed.
        """
        named = "application_name" in conninfo_to_dict(url)
        conninfo = url if named else make_conninfo(url, application_name="harvestd")
        pool = make_pool(conninfo, min_size=1, max_size=pool_size, timeout_s=timeout_s)
        try:
            try:
                await pool.open(wait=True, timeout=timeout_s)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                raise StoreUnavailable(f"PostgreSQL at {redacted(url)} cannot be reached: {exc}") from None
            store = cls(pool, redacted(url), conninfo)
            await store._migrate()
            schema = (await store._read("SELECT current_schema()"))[0][0]
            store._channel_prefix = f"harvestd_{schema}_"[:50]
            yield store
        finally:
            await pool.close()

    def __init__(self, pool: Any, where: str, conninfo: str) -> None:
        super().__init__(pool, where)
        self._conninfo = conninfo
        self._channel_prefix = "harvestd_"

    async def _notify(self, db: Tx, channel: str) -> None:
        await db.execute("SELECT pg_notify(?, '')", (self._channel_prefix + channel,))

    async def listen(self, wake: dict[str, Callable[[], None]], stop: asyncio.Event) -> None:
        """``LISTEN`` on a connection of its own (outside the pool) and call ``wake[channel]()``
        per notification, until ``stop``; a lost connection is logged and made again after
        5 s (the components poll meanwhile)."""
        channels = {self._channel_prefix + name: fn for name, fn in wake.items()}
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    for channel in channels:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    log.info("store_listening", channels=sorted(wake))
                    async for note in conn.notifies():
                        if (fn := channels.get(note.channel)) is not None:
                            fn()
                        if stop.is_set():
                            return
            except psycopg.Error as exc:
                log.warning("store_listen_lost", error=str(exc), retry_in_s=5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    async def _migrate(self) -> None:
        steps = await asyncio.to_thread(_migrations, "migrations_pg")
        async with self._tx() as db:
            await db.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations"
                             " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            cur = await db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            version = int((await cur.fetchall())[0][0])
            for number, script in steps:
                if number > version:
                    await db.conn.execute(script)  # a script: no parameters, run as it is
                    await db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                                     (number, utc_now_iso()))

    async def schema_version(self) -> int:
        """The number of the last applied migration."""
        rows = await self._read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(rows[0][0])

    async def ping(self) -> None:
        """A write round-trip; raises ``StoreUnavailable`` / ``psycopg.Error`` when the store is
        not writable."""
        async with self._tx() as db:
            await db.execute("UPDATE schema_migrations SET version = version WHERE false")

    # ---------------------------------------------------------------- engine-specific
    async def _add_batch(self, source: str, items: Sequence[NewItem]) -> set[str]:
        # one statement per batch; RETURNING names exactly the rows this statement inserted,
        # also when another node inserts the same keys at the same time
        rows = item_rows(source, items, utc_now_iso())
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(13)]
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO items (source, key, url, captured_at, metadata, processors, path,"
                " checksum, status, error_code, last_error, created_at, updated_at)"
                " SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
                " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
                " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
                " CAST(? AS text[]), CAST(? AS text[]))"
                " ON CONFLICT (source, key) DO NOTHING RETURNING key",
                [list(c) for c in columns])
            inserted = {r[0] for r in await cur.fetchall()}
            if inserted:
                await self._notify(db, "items")
            return inserted

    async def complete_results(self, owner: str, done: Sequence[tuple[int, ResultOutput, float]]) -> list[bool]:
        """Record several outputs ``(result_id, output, duration_ms)`` in one transaction (one
        statement); per result, False when ``owner`` lost its lease."""
        if not done:
            return []
        iso = utc_now_iso()
        ids = [d[0] for d in done]
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE results SET status = 'completed', output = d.output, octas = d.octas,"
                " cloud_fraction = d.cloud_fraction, model = d.model, model_version = d.model_version,"
                " duration_ms = d.duration_ms, error = NULL, lease_owner = NULL, lease_until = NULL,"
                " updated_at = ? FROM unnest(CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS integer[]),"
                " CAST(? AS double precision[]), CAST(? AS text[]), CAST(? AS text[]),"
                " CAST(? AS double precision[]))"
                " AS d(id, output, octas, cloud_fraction, model, model_version, duration_ms)"
                " WHERE results.id = d.id AND results.lease_owner = ? AND results.status = 'processing'"
                " RETURNING results.id",
                (iso, ids, [metadata_json(o.output) for _, o, _ in done], [o.octas for _, o, _ in done],
                 [o.cloud_fraction for _, o, _ in done], [o.model for _, o, _ in done],
                 [o.model_version for _, o, _ in done], [ms for _, _, ms in done], owner))
            recorded = {r[0] for r in await cur.fetchall()}
            await db.execute(SETTLE_ITEMS_OF_RESULTS, (iso, SqlList(ids)))
        return [result_id in recorded for result_id in ids]

    def _claim_results_sql(self, only_source: str) -> str:
        # two branches, each read in id order from its own index (pending: a partial index;
        # expired leases: results_claim), locked with SKIP LOCKED and cut at LIMIT; RETURNING
        # has no order, the last SELECT gives the claim order back
        return (
            "WITH pending AS (SELECT id FROM results WHERE status = 'pending'" + only_source
            + " ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED),"
            " expired AS (SELECT id FROM results WHERE status = 'processing' AND lease_until < :now"
            + only_source + " ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED),"
            " chosen AS (SELECT id FROM pending UNION ALL SELECT id FROM expired ORDER BY id LIMIT :limit),"
            " claimed AS (UPDATE results SET status = 'processing', lease_owner = :owner,"
            " lease_until = :until, attempts = attempts + 1, updated_at = :iso"
            " WHERE id IN (SELECT id FROM chosen) RETURNING id, item_id, processor, attempts)"
            " SELECT * FROM claimed ORDER BY id"
        )

    def _claim_items_sql(self, only_source: str) -> str:
        return (
            "WITH waiting AS (SELECT id, captured_at FROM items WHERE status = 'discovered'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= :now)" + only_source
            + " ORDER BY captured_at NULLS FIRST, id LIMIT :limit FOR UPDATE SKIP LOCKED),"
            " expired AS (SELECT id, captured_at FROM items WHERE status = 'downloading'"
            " AND lease_until < :now" + only_source
            + " ORDER BY captured_at NULLS FIRST, id LIMIT :limit FOR UPDATE SKIP LOCKED),"
            " chosen AS (SELECT * FROM waiting UNION ALL SELECT * FROM expired"
            " ORDER BY captured_at NULLS FIRST, id LIMIT :limit),"
            " claimed AS (UPDATE items SET status = 'downloading', lease_owner = :owner,"
            " lease_until = :until, attempts = attempts + 1, updated_at = :iso"
            " WHERE id IN (SELECT id FROM chosen) RETURNING *)"
            " SELECT * FROM claimed ORDER BY captured_at NULLS FIRST, id"
        )

    _MARK_DOWNLOADED_SQL = (
        "UPDATE items SET status = CASE WHEN processors = '[]' THEN 'processed'"
        " ELSE 'downloaded' END, path = d.path, bytes = d.bytes, sha256 = d.sha256,"
        " error_code = NULL, last_error = NULL, lease_owner = NULL, lease_until = NULL,"
        " updated_at = ? FROM json_to_recordset(CAST(? AS json))"
        " AS d(id bigint, path text, bytes bigint, sha256 text)"
        " WHERE items.id = d.id AND items.lease_owner = ? AND items.status = 'downloading'"
        " RETURNING items.id"
    )
    _QUEUE_RESULTS_SQL = (
        "INSERT INTO results (item_id, source, processor, created_at, updated_at)"
        " SELECT i.id, i.source, p.value, ?, ? FROM items i,"
        " jsonb_array_elements_text(CAST(i.processors AS jsonb)) AS p(value)"
        " WHERE i.id IN (SELECT value FROM json_each(?)) ON CONFLICT (item_id, processor)"
        " DO UPDATE SET status = 'pending', attempts = 0, error = NULL,"
        " updated_at = excluded.updated_at"
    )
