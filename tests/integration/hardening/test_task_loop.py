"""Issue 11 item 3: a big backfill task never stalls the event loop; ranges are bounded."""

from __future__ import annotations

import asyncio

from daemon.api.app import build_app
from daemon.config.api import ApiSettings
from tests.integration.test_api import health_of
from tests.integration.test_tasks import daemon_like


class LagProbe:
    """The longest a 10 ms sleep plus a store write (what /api/health does) took beyond 10 ms
    (seconds), while running: event-loop stalls and a store lock held too long both show."""

    def __init__(self, store) -> None:
        self.worst_s = 0.0
        self._task = asyncio.create_task(self._sample(store))

    async def _sample(self, store) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.01)
            await store.ping()
            self.worst_s = max(self.worst_s, loop.time() - started - 0.01)

    def stop(self) -> float:
        self._task.cancel()
        return self.worst_s


async def test_a_half_year_task_never_holds_the_store_or_the_loop(skycam, write_config):
    """Before the fix the insert of every slot was one transaction: the store (health, the
    downloader, the worker) waited 20+ s for a one-year task."""
    _site, base = skycam
    _, cfg = write_config(base, run_on_start="false")
    async with daemon_like(cfg) as (res, tasks):
        probe = LagProbe(res.store)
        task_id = await res.store.create_task("backfill", {"source": "sky", "since": "2024-01-01T00:00",
                                                           "until": "2024-06-30T23:59"})
        tasks.runner.wake.set()
        for _ in range(600):
            task = await res.store.get_task(task_id)
            if task["stage"] not in ("queued", "acquiring"):
                break
            await asyncio.sleep(0.1)
        worst_s = probe.stop()
    assert task["stage"] == "processing" and task["total"] == 182 * 24 * 6  # every 10-minute slot
    assert worst_s < 2.0, f"the store or loop stalled {worst_s:.2f} s while a task acquired its items"


async def test_a_task_range_beyond_the_maximum_is_400(aiohttp_client, skycam, write_config):
    _site, base = skycam
    _, cfg = write_config(base, run_on_start="false")
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        resp = await client.post("/api/tasks", json={"kind": "backfill", "source": "sky",
                                                     "since": "2020-01-01", "until": "2024-12-31"})
        assert resp.status == 400
        reason = (await resp.json())["error"]
        assert "1827 days" in reason and "max_task_range_days" in reason
        resp = await client.post("/api/tasks", json={"kind": "backfill", "source": "sky",
                                                     "since": "2024-12-31", "until": "2020-01-01"})
        assert resp.status == 400 and "before" in (await resp.json())["error"]
        assert (await res.store.list_tasks(10, 0))[1] == 0
