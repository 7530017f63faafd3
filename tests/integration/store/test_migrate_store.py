"""``harvestd migrate-store --to postgresql://…``: a SQLite store's rows move to PostgreSQL
with their ids and answer every report alike; a target holding items is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from daemon.store import SqliteStore, open_store
from tests.integration.store.test_query_plans import a_day_of_work, specs
from tests.pg import fresh_schema


async def reports(store) -> dict:
    return {"counts": await store.status_counts(), "runs": await store.last_runs(10),
            "errors": await store.last_errors(20), "results": await store.result_rows("sky"),
            "stats": await store.item_stats(), "tasks": await store.list_tasks(10, 0),
            "state": await store.source_state("sky"), "controls": await store.controls(),
            "health": await store.source_health()}


def migrate(config, url: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "daemon", "migrate-store", "--to", url, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=config.parent,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('data_dir = "data"\n[library]\nroot = "library"\n', encoding="utf-8")
    return path


async def test_a_sqlite_store_moves_to_postgresql_whole(config):
    db = config.parent / "data" / "harvest.db"
    async with SqliteStore.open(db) as lite:
        await a_day_of_work(lite)
        task = await lite.create_task("backfill", {"source": "sky", "since": "2025-01-01",
                                                   "until": "2025-01-02"})
        await lite.update_task(task, stage="processing", follow=["sky-1"], total=1)
        await lite.save_source_state("sky", {"last_seen": "2025-01-01T05:00:00Z"})
        await lite.set_paused("source:iss", True, "cli")
        expected = await reports(lite)
        max_id = (await lite._read("SELECT MAX(id) FROM items"))[0][0]
    async with fresh_schema() as url:
        done = await asyncio.to_thread(migrate, config, url)
        assert done.returncode == 0, done.stderr
        assert "copied items 900, results" in done.stdout and "counts checked" in done.stdout
        async with open_store(db, url) as pg:
            assert await reports(pg) == expected
            # ids carry on after the copied ones
            assert await pg.add_items("sky", specs("new", 1)) == {"new-0"}
            new_id = (await pg._read("SELECT id FROM items WHERE key = 'new-0'"))[0][0]
            assert new_id == max_id + 1
        again = await asyncio.to_thread(migrate, config, url)
        assert again.returncode == 1 and "already holds 901 items" in again.stderr
        assert url not in again.stderr  # the URL is never echoed (a password may be in it)


async def test_a_bad_target_is_a_usage_error(config):
    done = migrate(config, "mysql://x/y")
    assert done.returncode == 2 and "postgresql://" in done.stderr
