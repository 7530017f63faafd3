"""What the store's query groups need from a database engine (SQLite or PostgreSQL).

The query groups (:mod:`~daemon.store.core`, :mod:`~daemon.store.downloads`, …) are written
once, in SQL both engines run: ``?`` / ``:name`` parameters, ``ON CONFLICT``, ``RETURNING``,
``COUNT(*) FILTER (WHERE …)`` and lists passed as :class:`~daemon.store.dialect.SqlList`
through ``IN (SELECT value FROM json_each(?))``. The PostgreSQL engine rewrites that text
once per statement (:func:`daemon.store.dialect.to_postgres`); what cannot be shared (claims
with ``FOR UPDATE SKIP LOCKED``, batch inserts, migrations) each engine says itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from daemon.aio import lease_owner

_STORE_NUMBERS = itertools.count(1)


class Cursor(Protocol):
    """The outcome of one statement: ``rowcount`` and its rows (mapping- and index-able)."""

    @property
    def rowcount(self) -> int: ...

    async def fetchall(self) -> Any: ...

    async def fetchone(self) -> Any: ...


class Statement(Protocol):
    """One statement queued in a transaction: awaitable (its cursor) or ``async with``."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(self, *exc: object) -> None: ...


class Tx(Protocol):
    """A transaction as the query groups see it: statements only (no BEGIN / COMMIT)."""

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Statement: ...


class StoreBase:
    """The engine-independent part of a store: its name and the owner of the runs it opens.

    Engines implement :meth:`_tx` (one write transaction, rolled back on any exception) and
    :meth:`_read` (one query, its rows).
    """

    #: ``sqlite`` or ``postgresql``
    engine = "?"

    def __init__(self, where: str) -> None:
        #: where the data lives, for messages: a file path or a URL without its password
        self.where = where
        #: owner of the runs this store opens (``host:pid:runN``): one per Store, so closing
        #: "my runs" never touches another Store's in the same process
        self.run_owner = lease_owner(f"run{next(_STORE_NUMBERS)}")

    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Awaitable[list[Any]]:
        raise NotImplementedError

    async def _notify(self, db: Tx, channel: str) -> None:
        """Tell every process sharing the store that work appeared on ``channel`` (``items``:
        downloads to claim, ``results``: processing to claim), at the transaction's commit.
        SQLite: nothing (its processes poll)."""
        return None

    async def listen(self, wake: dict[str, Callable[[], None]], stop: asyncio.Event) -> None:
        """Call ``wake[channel]()`` whenever another process notifies ``channel``, until
        ``stop``. SQLite: returns at once (polling is the only way)."""
        return None
