"""PostgreSQL connections dropped again and again while a backfill runs (issue 15: nothing
kills it): the downloader, worker and task runner log, wait and carry on; the backfill ends
whole — every slot one item, one result, nothing doubled."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from structlog.testing import capture_logs

from tests.integration.test_tasks import daemon_like
from tests.pg import fresh_schema


async def drop_connections(url: str, name: str, times: int) -> int:
    """Terminate every connection of application ``name``, every 0.25 s, ``times`` times;
    returns how many were terminated."""
    dropped = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        for _ in range(times):
            cur = await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                      " WHERE application_name = %s", (name,))
            dropped += len(await cur.fetchall())
            await asyncio.sleep(0.25)
    return dropped


async def test_dropped_connections_never_stop_the_components(skycam, write_config, tmp_path):
    _site, base = skycam
    async with fresh_schema() as url:
        name = f"harvestd_{uuid.uuid4().hex[:8]}"
        _, cfg = write_config(base)
        cfg = cfg.model_copy(update={
            "store": cfg.store.model_copy(update={"url": f"{url}&application_name={name}"}),
            "downloads": cfg.downloads.model_copy(update={"lease_s": 2.0}),
            "worker": cfg.worker.model_copy(update={"lease_s": 2.0})})
        async with daemon_like(cfg) as (res, tasks):
            loops = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.endswith(".run")]
            assert len(loops) >= 3  # downloader, worker, task runner
            task = await res.store.create_task("backfill", {"source": "sky", "since": "2024-06-15T10:00",
                                                            "until": "2024-06-15T13:59"})
            tasks.runner.wake.set()
            with capture_logs() as logs:
                dropped = await drop_connections(url, name, times=12)
            seen = {e["event"] for e in logs}
            assert seen & {"store_unavailable_waiting", "work_interrupted_store_unavailable"}, seen
            got = None
            for _ in range(600):
                try:
                    got = await res.store.get_task(task)
                except Exception:
                    got = None
                if got and got["stage"] == "completed":
                    break
                await asyncio.sleep(0.1)
            assert got is not None and got["stage"] == "completed", got
            assert dropped > 0
            assert all(not t.done() for t in loops)  # no component died
            rows = await res.store.result_rows("sky")
            assert len(rows) == 24 and {r["status"] for r in rows} == {"completed"}
            assert len({r["key"] for r in rows}) == 24
