"""A real PostgreSQL for tests: one fresh schema per test in the database that
``HARVESTD_TEST_PG`` names (default ``postgresql:///harvestd_test``, the local server over
its Unix socket; ``.ci/run`` starts Debian's cluster and creates the role and database).

Unreachable: a failure when ``HARVESTD_REQUIRE_POSTGRES=1`` (CI), else a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import psycopg
import pytest

DEFAULT_URL = "postgresql:///harvestd_test"


def server_url() -> str:
    """The test database's URL; fails or skips the test when it cannot be reached."""
    url = os.environ.get("HARVESTD_TEST_PG", DEFAULT_URL)
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        if os.environ.get("HARVESTD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (HARVESTD_REQUIRE_POSTGRES=1) but {url} fails: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {url} (CI sets HARVESTD_REQUIRE_POSTGRES=1 and fails)")
    return url


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first (libpq ``options=-csearch_path=…``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A new empty schema in the test database; yields a URL that uses it; dropped after."""
    url = server_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(url, schema)
    finally:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
