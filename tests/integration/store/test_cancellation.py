"""Store calls cancelled at any instant leave the connection usable and the data whole.

aiosqlite runs statements in its own thread: cancelling the awaiting coroutine does not
cancel a statement already queued there. A ``BEGIN IMMEDIATE`` cancelled while it waits for
another process's write lock therefore still runs later; the store must notice that before
its next transaction (issue 11, item 1: the daemon died with "cannot start a transaction
within a transaction").
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from daemon.store import NewItem, SqliteStore


def spec(key: str) -> NewItem:
    return NewItem(key=key, url=f"http://x/{key}.jpg", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                   path=f"sky/{key}.jpg", processors=("octas",), metadata={})


def hold_write_lock(db, seconds: float, held: threading.Event) -> None:
    """Another process's writer: BEGIN IMMEDIATE, sleep, roll back (in a thread)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    threading.Event().wait(seconds)
    conn.execute("ROLLBACK")
    conn.close()


async def cancelled_behind_a_writer(db, store, call, hold_s: float) -> asyncio.Task[None]:
    """Another writer holds the lock for ``hold_s``; ``call()`` times out waiting for it.
    Returns the writer's task (await it: the lock is free again)."""
    held = threading.Event()
    holder = asyncio.create_task(asyncio.to_thread(hold_write_lock, db, hold_s, held))
    await asyncio.to_thread(held.wait, 5)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(hold_s / 5):
            await call()
    return holder


async def test_begin_cancelled_while_another_writer_holds_the_lock(tmp_path):
    db = tmp_path / "h.db"
    async with SqliteStore.open(db, busy_timeout_ms=5000) as store:
        # the API's health check times out while BEGIN IMMEDIATE waits for the lock
        holder = await cancelled_behind_a_writer(db, store, store.ping, 1.0)
        await holder  # the other writer is done; the stale BEGIN has run meanwhile (or will)
        await store.ping()
        assert await store.add_items("sky", [spec("a")]) == {"a"}
        assert await store.claim_items("D", 10, lease_s=60)
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT key, status FROM items").fetchall() == [("a", "downloading")]
    raw.close()


async def test_read_cancelled_while_a_stale_begin_is_queued(tmp_path):
    db = tmp_path / "h.db"
    async with SqliteStore.open(db, busy_timeout_ms=5000) as store:
        holder = await cancelled_behind_a_writer(db, store, lambda: store.add_items("sky", [spec("a")]), 0.5)
        # a read right after (the stale BEGIN may still be queued): answers and leaves no transaction
        assert await store.schema_version() >= 5
        await holder
        assert await store.add_items("sky", [spec("b")]) == {"b"}
        # the cancelled insert ran whole in the database thread once the lock was free, or not
        # at all: "a" is there exactly once either way
        await store.add_items("sky", [spec("a")])
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT COUNT(*) FROM items WHERE key = 'a'").fetchone()[0] == 1
    raw.close()


@pytest.mark.parametrize("operation", ["add", "claim", "complete"])
async def test_cancelled_at_every_await_loses_and_doubles_nothing(tmp_path, operation):
    """Cancel one store call after 0, 1, 2 … loop turns; after each, the store works and the
    call either happened entirely or not at all."""
    async with SqliteStore.open(tmp_path / "h.db") as store:
        for turns in range(40):
            key = f"k{turns}"
            await store.add_items("sky", [spec(f"{key}-base")])
            if operation == "add":
                call = store.add_items("sky", [spec(key), spec(key + "-2")])
            elif operation == "claim":
                call = store.claim_items(f"owner{turns}", 10, lease_s=60)
            else:
                (claimed,) = await store.claim_items(f"pre{turns}", 10, lease_s=60)
                call = store.mark_downloaded(claimed.id, f"pre{turns}", "p", 1, "h")
            task = asyncio.ensure_future(call)
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # the store answers, and a write goes through
            await store.ping()
            rows = await store._read("SELECT key, status, lease_owner FROM items WHERE key LIKE ?",
                                     (f"{key}%",))
            keys = {r["key"] for r in rows}
            if operation == "add":
                assert keys in ({key + "-base"}, {key + "-base", key, key + "-2"})  # all or nothing
            statuses = {r["status"] for r in rows}
            assert statuses <= {"discovered", "downloading", "downloaded"}
            # leave nothing claimable behind for the next turn
            await store._read("SELECT 1")
            async with store._tx() as tx:
                await tx.execute("UPDATE items SET status = 'failed' WHERE status != 'failed'")
