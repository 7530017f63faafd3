"""The PostgreSQL engine's statements have index paths (issue 15; the SQLite twin is
test_query_plans.py): every statement the store runs in a day of work is captured as it is
sent and planned again with ``EXPLAIN`` under ``enable_seqscan = off`` — a ``Seq Scan`` on
``items`` or ``results`` left in a plan then means the planner had no other way."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from daemon.store import open_store, pg_conn
from tests.integration.store.test_query_plans import a_day_of_work
from tests.pg import fresh_schema

SEQ_SCAN = re.compile(r"Seq Scan on (items|results)\b")
SKIP = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|CREATE|ALTER|DROP|SELECT pg_|SELECT COALESCE\(MAX\(version)",
                  re.I)


async def test_no_statement_needs_a_sequential_scan(tmp_path, monkeypatch):
    sent: list[tuple[str, Any]] = []
    real_run = pg_conn._run

    async def recording(conn, sql, params):  # type: ignore[no-untyped-def]
        sent.append((pg_conn.to_postgres(sql), pg_conn.pg_params(params) if params else []))
        return await real_run(conn, sql, params)

    monkeypatch.setattr(pg_conn, "_run", recording)
    async with fresh_schema() as url:
        async with open_store(tmp_path / "unused.db", url) as store:
            await a_day_of_work(store)
        assert len(sent) > 40
        scans = {}
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:  # EXPLAIN runs nothing
            await conn.execute("SET enable_seqscan = off")
            for sql, params in dict.fromkeys((s, repr(p)) for s, p in sent):
                if SKIP.match(sql):
                    continue
                args = next(p for s, p in sent if s == sql and repr(p) == params)
                plan = "\n".join(r[0] for r in await (await conn.execute("EXPLAIN " + sql, args)).fetchall())
                if SEQ_SCAN.search(plan):
                    scans[sql[:160]] = plan
    assert scans == {}, "\n\n".join(f"{sql}\n{plan}" for sql, plan in scans.items())
