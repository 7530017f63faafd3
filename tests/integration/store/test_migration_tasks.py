"""Migration 0011 rebuilds ``tasks`` (geo task kind and stages, plan, detail, lease): the
rows of a store made before it keep their ids and fields and stay advanceable."""

from __future__ import annotations

import sqlite3

import pytest

from daemon.store import SqliteStore
from daemon.store.sqlite import _migrations

pytestmark = pytest.mark.integration


async def test_tasks_of_a_schema_10_store_survive_migration_11(tmp_path):
    db = tmp_path / "h.db"
    conn = sqlite3.connect(db)
    for number, sql in _migrations():
        if number <= 10:
            conn.executescript(sql)
    conn.execute("PRAGMA user_version = 10")
    conn.execute("INSERT INTO tasks (id, kind, params, stage, follow, total, done, failed, created_at,"
                 " updated_at) VALUES (5, 'backfill', ?, 'processing', ?, 2, 1, 0, '2026-11-30T10:00:00Z',"
                 " '2026-11-30T10:05:00Z')", ('{"source": "sky"}', '["k1", "k2"]'))
    conn.commit()
    conn.close()
    async with SqliteStore.open(db) as store:
        assert await store.schema_version() >= 11
        task = await store.get_task(5, with_follow=True)
        assert task is not None
        assert (task["kind"], task["stage"], task["follow"], task["total"], task["done"]) == (
            "backfill", "processing", ["k1", "k2"], 2, 1)
        assert task["plan"] == {} and task["detail"] == {} and task["lease_owner"] is None
        assert [t["id"] for t in await store.open_tasks()] == [5]
        geo = await store.create_task("geo_model", {"bboxes": []}, stage="data_processing")
        assert geo == 6  # ids go on after the old rows
        with pytest.raises(sqlite3.IntegrityError):  # the CHECKs came along
            await store.update_task(geo, stage="dancing")
