"""PostgreSQL connection plumbing (psycopg 3, async, with a connection pool).

Each write is one transaction on a connection of the pool (``READ COMMITTED``; claims lock
the rows they take with ``FOR UPDATE SKIP LOCKED``, so N processes never take one row
twice). Statements arrive in the store's shared SQL and are rewritten once each
(:func:`daemon.store.dialect.to_postgres`). Rows behave like ``sqlite3.Row``: by column
name or index, and ``dict(row)``.

A cancelled caller: psycopg sends the server a cancel request for the running statement,
the transaction block rolls back and the pool discards or resets the connection. A lost
connection, a restarting server or an exhausted pool is :class:`StoreUnavailable` (transient:
the components wait and carry on; the pool makes new connections).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from daemon.errors import StoreUnavailable
from daemon.store.base import StoreBase
from daemon.store.dialect import pg_params, to_postgres


class PgRow(tuple[Any, ...]):
    """One row: ``row[0]``, ``row["name"]``, ``row.keys()``, ``dict(row)``."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Column names, in order."""
        return list(self._names)


def pg_row(cursor: Any) -> RowMaker[PgRow]:
    """psycopg row factory making :class:`PgRow` (the first of equal column names wins)."""
    names: dict[str, int] = {}
    for i, column in enumerate(cursor.description or ()):
        names.setdefault(column.name, i)

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, names)

    return make


class _NumberLoader(Loader):
    """``numeric`` (e.g. ``SUM(bigint)``) as int when integral, else float — as SQLite
    returns them — rather than ``Decimal``."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


class PgCursor:
    """A finished statement: its rows (when it returns any) and ``rowcount``."""

    def __init__(self, rows: list[PgRow], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchall(self) -> list[PgRow]:
        """Every row."""
        return self._rows

    async def fetchone(self) -> PgRow | None:
        """The first row, or None."""
        return self._rows[0] if self._rows else None


async def _run(conn: psycopg.AsyncConnection[PgRow], sql: str,
               params: Sequence[Any] | dict[str, Any]) -> PgCursor:
    async with conn.cursor() as cur:
        # parameters always given (empty too): psycopg then turns the rewrite's %% back into %
        await cur.execute(to_postgres(sql), pg_params(params))
        rows = await cur.fetchall() if cur.description is not None else []
        return PgCursor(rows, cur.rowcount)


class _PgStatement:
    def __init__(self, conn: psycopg.AsyncConnection[PgRow], sql: str,
                 params: Sequence[Any] | dict[str, Any]) -> None:
        self._call = _run(conn, sql, params)

    def __await__(self) -> Generator[Any, None, PgCursor]:
        return self._call.__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._call

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgTx:
    """A transaction as the query groups see it (statements only)."""

    def __init__(self, conn: psycopg.AsyncConnection[PgRow]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> _PgStatement:
        """Run ``sql`` (the shared spelling); await it for its cursor or use ``async with``."""
        return _PgStatement(self.conn, sql, params)


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumberLoader)


def make_pool(url: str, min_size: int, max_size: int, timeout_s: float) -> AsyncConnectionPool[Any]:
    """A closed pool of autocommit connections to ``url`` (open it with ``await pool.open()``)."""
    return AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, timeout=timeout_s, open=False,
        kwargs={"autocommit": True, "row_factory": pg_row}, configure=_configure,
        name="harvestd-store")


class PgBase(StoreBase):
    """A pool of psycopg connections; every write one transaction on one connection."""

    def __init__(self, pool: AsyncConnectionPool[Any], where: str) -> None:
        super().__init__(where)
        self._pool = pool

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[PgTx]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield PgTx(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.where}: {exc}") from exc

    async def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Run one query (autocommit); its rows (:class:`PgRow`).

        Raises:
            StoreUnavailable: the server is gone, restarting, or no connection came in time.
        """
        try:
            async with self._pool.connection() as conn:
                return list(await (await _run(conn, sql, params)).fetchall())
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.where}: {exc}") from exc
