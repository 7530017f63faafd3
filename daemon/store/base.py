"""Connection plumbing shared by the store's query groups: one lock, one transaction at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite


class StoreBase:
    """One aiosqlite connection; every statement runs under one :class:`asyncio.Lock`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    async def _roll_back_stale(self) -> None:
        # a caller cancelled while its BEGIN was queued leaves a transaction open: undo it
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_Tx]:
        async with self._lock:
            await self._roll_back_stale()
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._conn)
            except BaseException:
                await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise
            await asyncio.shield(self._conn.execute("COMMIT"))

    async def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        async with self._lock:
            await self._roll_back_stale()
            async with self._conn.execute(sql, params) as cur:
                return list(await cur.fetchall())


class _Tx:
    """The connection as seen inside one transaction (statements only, no BEGIN/COMMIT)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._conn.execute(sql, params)

    async def executescript_in_tx(self, script: str) -> None:
        """Run ``;``-separated DDL statements one by one inside the open transaction."""
        for statement in _split_sql(script):
            await self._conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
