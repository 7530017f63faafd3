"""API tasks: validation, a backfill task through its stages, restart survival, run_model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from daemon.api.app import build_app
from daemon.api.tasks import TaskContext
from daemon.config.api import ApiSettings
from daemon.resources import Resources, open_resources
from daemon.sources.registry import build_source
from daemon.tasks import TaskRunner
from tests.integration.test_api import health_of


@asynccontextmanager
async def daemon_like(cfg) -> AsyncIterator[tuple[Resources, TaskContext]]:
    """Resources with downloader, worker and task runner running, as in ``harvestd run``."""
    async with open_resources(cfg, "test") as res:
        sources = {n: build_source(n, s) for n, s in cfg.sources.items()}

        def wake() -> None:
            res.downloader.wake.set()
            res.worker.wake.set()

        runner = TaskRunner(res.store, res.http, lambda: sources, wake, poll_s=0.1)
        stop = asyncio.Event()
        loops = [asyncio.create_task(res.downloader.run(stop)), asyncio.create_task(res.worker.run(stop)),
                 asyncio.create_task(runner.run(stop))]
        try:
            yield res, TaskContext(res.store, runner, lambda: sources, lambda: set(res.processors))
        finally:
            stop.set()
            await asyncio.gather(*loops)


async def wait_stage(client, task_id: int, stage: str = "completed", timeout_s: float = 60) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        task = await (await client.get(f"/api/task/{task_id}")).json()
        if task["stage"] in (stage, "failed"):
            assert task["stage"] == stage, task
            return task
        assert loop.time() < deadline, task
        await asyncio.sleep(0.1)


async def test_bad_task_requests_are_400_with_the_reason(aiohttp_client, skycam, write_config):
    _site, base = skycam
    _, cfg = write_config(base)
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        for body, reason in [("{oops", "not valid JSON"), ('{"kind": "dance"}', "unknown task kind"),
                             ('{"kind": "ingest", "source": "nope"}', "unknown source"),
                             ('{"kind": "backfill", "source": "sky"}', "needs 'since' and 'until'"),
                             ('{"kind": "run_model", "processor": "nope"}', "unknown processor"),
                             ('[1, 2]', "JSON object")]:
            resp = await client.post("/api/tasks", data=body, headers={"Content-Type": "application/json"})
            assert resp.status == 400 and reason in (await resp.json())["error"], body
        assert (await client.get("/api/task/12345")).status == 404
        assert (await (await client.get("/api/tasks")).json())["total"] == 0


async def test_a_backfill_task_goes_through_its_stages_then_run_model_redoes_the_results(
        aiohttp_client, skycam, write_config):
    site, base = skycam
    site.gaps |= {"2024-06-15T12:22", "2024-06-15T13:42"}
    _, cfg = write_config(base)
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        resp = await client.post("/api/tasks", json={"kind": "backfill", "source": "sky",
                                                     "since": "2024-06-15T12:00", "until": "2024-06-15T13:59"})
        created = await resp.json()
        assert resp.status == 202 and created["stage"] == "queued"
        assert resp.headers["Location"] == f"/api/task/{created['id']}"
        task = await wait_stage(client, created["id"])
        assert (task["total"], task["done"], task["failed"]) == (12, 10, 2)
        assert task["params"] == {"source": "sky", "since": "2024-06-15T12:00", "until": "2024-06-15T13:59"}
        before = {r["key"]: r["updated_at"] for r in await res.store.result_rows("sky")}

        resp = await client.post("/api/tasks", json={"kind": "run_model", "processor": "octas",
                                                     "items": {"source": "sky"}})
        rerun = await wait_stage(client, (await resp.json())["id"])
        assert (rerun["total"], rerun["done"], rerun["failed"]) == (10, 10, 0)
        rows = await res.store.result_rows("sky")
        assert {r["status"] for r in rows} == {"completed"} and len(rows) == len(before)
        listing = await (await client.get("/api/tasks?limit=1")).json()
        assert listing["total"] == 2 and [t["id"] for t in listing["tasks"]] == [rerun["id"]]


async def test_a_task_survives_a_restart(aiohttp_client, skycam, write_config):
    _site, base = skycam
    _, cfg = write_config(base)
    async with open_resources(cfg, "test") as res:  # posted, then the daemon stopped before running it
        task_id = await res.store.create_task("backfill", {"source": "sky", "since": "2024-06-15T12:00",
                                                           "until": "2024-06-15T12:59"})
        await res.store.update_task(task_id, stage="acquiring")
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        task = await wait_stage(client, task_id)
    assert (task["total"], task["done"], task["failed"]) == (6, 6, 0)
