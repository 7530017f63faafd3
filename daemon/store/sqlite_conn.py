"""SQLite connection plumbing (aiosqlite): one lock, one transaction at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from daemon.store.base import StoreBase
from daemon.store.damage import StoreDamaged, is_damage

T = TypeVar("T")


class SqliteBase(StoreBase):
    """One aiosqlite connection; every statement runs under one :class:`asyncio.Lock`.

    Cancellation-safe: aiosqlite runs statements in its own thread, so cancelling the
    awaiting coroutine does not cancel a statement already queued there (a ``BEGIN
    IMMEDIATE`` waiting for another process's write lock still runs later). Any call that
    ends by an exception or a cancellation marks the connection *unsettled*; the next call
    first lets the thread's queue drain (a no-op statement: the queue is FIFO) and rolls
    back whatever transaction a stale statement left open.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        super().__init__(str(path))
        self._conn = conn
        self._lock = asyncio.Lock()
        self._unsettled = False
        self.path = path

    async def _settle(self) -> None:
        """After an interrupted call: wait out queued statements, undo an open transaction."""
        if not self._unsettled:
            return
        await self._conn.execute("SELECT 1")  # every statement queued before this one has run
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")
        self._unsettled = False

    async def _end(self, sql: str) -> None:
        """COMMIT or ROLLBACK; shielded, so a cancellation cannot leave it half-sent."""
        try:
            await asyncio.shield(self._conn.execute(sql))
        except BaseException:
            self._unsettled = True
            raise

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_Tx]:
        async with self._lock:
            try:
                await self._settle()
                await self._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._unsettled = True
                raise
            tx = _Tx(self._conn)
            try:
                yield tx
            except BaseException as exc:
                self._unsettled = True
                await asyncio.shield(tx.close_cursors())
                await self._end("ROLLBACK")
                if is_damage(exc):
                    raise StoreDamaged(self.path, str(exc)) from exc
                raise
            await self._end("COMMIT")

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(sqlite3_connection, *args)`` in the database thread as one transaction:
        BEGIN IMMEDIATE, ``fn``, COMMIT (ROLLBACK if it raises) in one call, for batch writes
        that would otherwise cost a thread hop per statement (issue 13). ``fn`` must only use
        the connection it is given and must not commit.

        A cancelled caller does not stop ``fn``: the transaction then completes (or rolls
        back) on its own in the thread, whole, and the next call waits for it.

        Raises:
            StoreDamaged: the database file is damaged.
            sqlite3.Error: whatever ``fn`` or the transaction raised.
        """
        async with self._lock:
            try:
                await self._settle()
                # aiosqlite's own queue (the function it runs each statement through)
                execute: Callable[..., Awaitable[T]] = self._conn._execute
                return await execute(_transaction, self._conn._conn, fn, args)
            except BaseException as exc:
                self._unsettled = True
                if is_damage(exc):
                    raise StoreDamaged(self.path, str(exc)) from exc
                raise

    async def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Run one query outside any write transaction; its rows (``sqlite3.Row``)."""
        async with self._lock:
            try:
                await self._settle()
                # execute, fetch and close in one call into the database thread: no cursor
                # outlives a cancellation
                return list(await self._conn.execute_fetchall(sql, params))
            except BaseException as exc:
                self._unsettled = True
                if is_damage(exc):
                    raise StoreDamaged(self.path, str(exc)) from exc
                raise


def _transaction(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class _Tx:
    """The connection as seen inside one transaction (statements only, no BEGIN/COMMIT).

    Every statement's cursor is kept until the transaction ends, so that a body cancelled
    between a statement and its ``async with`` (the cursor then only lives on in the
    exception's traceback) cannot leave an unfinished ``… RETURNING`` statement behind,
    which would make every later COMMIT fail ("SQL statements in progress").
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._statements: list[asyncio.Future[aiosqlite.Cursor]] = []

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> _Statement:
        """Queue ``sql``; await the result for the cursor, or use it as ``async with``."""
        future = asyncio.ensure_future(_cursor(self._conn, sql, params))
        self._statements.append(future)
        return _Statement(future)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Statement:
        """Queue ``sql`` once per row (one call into the database thread)."""
        future = asyncio.ensure_future(_many(self._conn, sql, rows))
        self._statements.append(future)
        return _Statement(future)

    async def close_cursors(self) -> None:
        """Wait for every queued statement and close its cursor (before a ROLLBACK)."""
        for future in self._statements:
            try:
                cursor = await future
            except BaseException:  # the statement failed: nothing to close
                continue
            await cursor.close()

    async def executescript_in_tx(self, script: str) -> None:
        """Run ``;``-separated DDL statements one by one inside the open transaction."""
        for statement in _split_sql(script):
            await self._conn.execute(statement)


async def _cursor(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any]
                  ) -> aiosqlite.Cursor:
    return await conn.execute(sql, params)


async def _many(conn: aiosqlite.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> aiosqlite.Cursor:
    return await conn.executemany(sql, rows)


class _Statement:
    """One statement of a :class:`_Tx`: awaitable (the cursor) and an async context manager
    (closes the cursor on exit). Cancelling the awaiting caller never cancels the statement."""

    def __init__(self, future: asyncio.Future[aiosqlite.Cursor]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, aiosqlite.Cursor]:
        return asyncio.shield(self._future).__await__()

    async def __aenter__(self) -> aiosqlite.Cursor:
        return await asyncio.shield(self._future)

    async def __aexit__(self, *exc: object) -> None:
        await (await self._future).close()


def _split_sql(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
