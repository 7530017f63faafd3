"""Open the store the configuration names: SQLite (a file, the default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from daemon.store.sqlite import SqliteStore
from daemon.store.store import Store


def is_postgres_url(url: str | None) -> bool:
    """True for ``postgresql://…`` / ``postgres://…`` URLs."""
    return bool(url) and str(url).split("://", 1)[0].lower() in ("postgresql", "postgres")


@asynccontextmanager
async def open_store(path: Path, url: str | None = None, busy_timeout_ms: int = 5000,
                     pool_size: int = 4) -> AsyncIterator[Store]:
    """The store at ``url`` (PostgreSQL) when given, else the SQLite file at ``path``.

    Raises:
        StoreDamaged: the SQLite file is damaged.
        sqlite3.Error | psycopg.Error: the database cannot be opened or migrated.
        ValueError: ``url`` is not a PostgreSQL URL.
    """
    if url:
        if not is_postgres_url(url):
            raise ValueError(f"[store] url must be postgresql://…, not {url.split('://', 1)[0]}://")
        from daemon.store.postgres import PgStore  # psycopg only when it is used

        async with PgStore.open(url, pool_size=pool_size) as pg:
            yield pg
        return
    async with SqliteStore.open(path, busy_timeout_ms) as store:
        yield store


class _StoreTable(Protocol):
    @property
    def url(self) -> str | None: ...

    @property
    def busy_timeout_ms(self) -> int: ...

    @property
    def pool_size(self) -> int: ...


class _Config(Protocol):
    @property
    def db_path(self) -> Path: ...

    @property
    def store(self) -> _StoreTable: ...


def open_configured(cfg: _Config) -> AbstractAsyncContextManager[Store]:
    """:func:`open_store` for a loaded configuration's ``[store]`` table."""
    return open_store(cfg.db_path, cfg.store.url, cfg.store.busy_timeout_ms, cfg.store.pool_size)
