"""Every store test runs on both engines: ``store_url`` is None (SQLite in the test's folder)
or a PostgreSQL URL with a fresh schema; ``open_test_store()`` opens it (again and again:
several stores on one database stand for several processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from daemon.store import Store, open_store
from tests.pg import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None (SQLite) or a PostgreSQL URL of an empty schema."""
    if request.param == "sqlite":
        yield None
        return
    async with fresh_schema() as url:
        yield url


@pytest.fixture
def open_test_store(store_url: str | None, tmp_path: Path) -> Callable[[], AbstractAsyncContextManager[Store]]:
    """Open the test's store (SQLite at ``tmp_path/h.db`` or the PostgreSQL schema)."""
    return lambda: open_store(tmp_path / "h.db", store_url, pool_size=4)


@pytest.fixture
async def store(open_test_store: Callable[[], AbstractAsyncContextManager[Store]]) -> AsyncIterator[Store]:
    """An open, empty store of either engine."""
    async with open_test_store() as opened:
        yield opened
