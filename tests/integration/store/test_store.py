"""The store on both engines (SQLite and PostgreSQL): idempotent inserts, leases that lose
nothing and double nothing, retries, transfers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

from daemon.store import NewItem, ResultOutput, open_store
from tests.pg import fresh_schema


def spec(key: str, processors: tuple[str, ...] = ("octas",)) -> NewItem:
    return NewItem(key=key, url=f"http://x/{key}.jpg", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                   path=f"sky/{key}.jpg", processors=processors, metadata={"latitude": 1.0})


async def test_idempotent_inserts_and_schema_version(open_test_store, store_url):
    async with open_test_store() as store:
        latest = await store.schema_version()
        assert latest >= 12
        assert await store.add_items("sky", [spec("a"), spec("b")]) == {"a", "b"}
        assert await store.add_items("sky", [spec("a"), spec("c")]) == {"c"}
        assert await store.add_items("other", [spec("a")]) == {"a"}  # UNIQUE(source, key)
        assert sum(r["n"] for r in (await store.status_counts())["items"]) == 4
    async with open_test_store() as store:  # reopening does not re-run migrations
        assert await store.schema_version() == latest
        assert sum(r["n"] for r in (await store.status_counts())["items"]) == 4


async def test_download_lease_expires_and_is_reclaimed(store):
    await store.add_items("sky", [spec("a")])
    (first,) = await store.claim_items("A", 10, lease_s=0.05)
    assert await store.claim_items("B", 10, lease_s=60) == []  # leased to A
    await asyncio.sleep(0.1)  # A "crashed": its lease expires
    (again,) = await store.claim_items("B", 10, lease_s=60)
    assert again.id == first.id and again.attempts == 2
    assert not await store.mark_downloaded(first.id, "A", "p", 1, "h")  # stale owner
    assert await store.mark_downloaded(again.id, "B", "p", 1, "h")
    (claimed,) = await store.claim_results("W", 10, lease_s=60, max_attempts=3)
    assert claimed.item.key == "a" and claimed.processor == "octas"


async def test_result_lease_crash_is_redone_once_and_never_doubled(store):
    await store.add_items("sky", [spec("a")])
    (it,) = await store.claim_items("D", 1, lease_s=60)
    await store.mark_downloaded(it.id, "D", "p", 1, "h")
    (lost,) = await store.claim_results("W1", 10, lease_s=0.05, max_attempts=3)
    await asyncio.sleep(0.1)
    (redo,) = await store.claim_results("W2", 10, lease_s=60, max_attempts=3)
    assert redo.id == lost.id and redo.attempts == 2
    out = ResultOutput({"octas": 3}, "m", "1", octas=3, cloud_fraction=0.4)
    assert await store.complete_result(redo.id, "W2", out, 5.0)
    assert not await store.complete_result(lost.id, "W1", out, 5.0)  # late worker: no double
    rows = await store.result_rows("sky")
    assert len(rows) == 1 and rows[0]["octas"] == 3 and rows[0]["item_status"] == "processed"


async def test_result_given_up_after_max_attempts(store):
    await store.add_items("sky", [spec("a")])
    (it,) = await store.claim_items("D", 1, lease_s=60)
    await store.mark_downloaded(it.id, "D", "p", 1, "h")
    for _ in range(2):
        assert await store.claim_results("W", 1, lease_s=0.01, max_attempts=2)
        await asyncio.sleep(0.05)
    assert await store.claim_results("W", 1, lease_s=60, max_attempts=2) == []
    (row,) = await store.result_rows("sky")
    assert row["status"] == "failed" and "gave up after 2 attempts" in row["error"]


async def test_release_on_graceful_stop(store):
    await store.add_items("sky", [spec("a"), spec("b")])
    items = await store.claim_items("D", 2, lease_s=60)
    await store.mark_downloaded(items[0].id, "D", "p", 1, "h")
    await store.claim_results("W", 10, lease_s=60, max_attempts=3)
    assert await store.release_items("D") == 1
    assert await store.release_results("W") == 1
    busy = await store.busy_counts()
    assert busy == {"downloading": 0, "processing": 0, "pending": 1}
    states = await store.item_states("sky", ["a", "b"])
    assert states == {"a": ("downloaded", None), "b": ("discovered", None)}


async def test_item_without_processors_is_processed_on_download(store):
    await store.add_items("sky", [spec("a", processors=())])
    (it,) = await store.claim_items("D", 1, lease_s=60)
    await store.mark_downloaded(it.id, "D", "p", 1, "h")
    assert (await store.item_states("sky", ["a"]))["a"] == ("processed", None)


async def test_two_processes_share_one_database(open_test_store):
    async with open_test_store() as one, open_test_store() as two:
        await one.add_items("sky", [spec(f"k{i}") for i in range(20)])
        a, b = await asyncio.gather(one.claim_items("A", 15, 60), two.claim_items("B", 15, 60))
        ids_a, ids_b = {i.id for i in a}, {i.id for i in b}
        assert len(ids_a | ids_b) == 20 and not ids_a & ids_b


async def test_retry_waits_for_its_backoff_and_keeps_the_reason(store):
    await store.add_items("sky", [spec("a")])
    [item] = await store.claim_items("me", 10, 60)
    assert await store.retry_item(item.id, "someone-else", "network", "timeout", 0) is False
    assert await store.retry_item(item.id, "me", "network", "aria2 error 2: timeout", 3600)
    assert await store.claim_items("me", 10, 60) == []  # not before its next attempt
    [err] = await store._read("SELECT status, error_code, last_error FROM items")
    assert tuple(err) == ("discovered", "network", "aria2 error 2: timeout")
    await store.retry_item(item.id, "me", "network", "x", 0)  # not leased any more: no-op
    async with store._tx() as db:
        await db.execute("UPDATE items SET next_attempt_at = 0")
    [again] = await store.claim_items("me", 10, 60)
    assert again.attempts == 2


async def test_claim_by_id_adopts_only_free_items(store):
    await store.add_items("sky", [spec("a"), spec("b"), spec("c")])
    ids = {r[0]: r[1] for r in await store._read("SELECT key, id FROM items")}
    await store.claim_items_by_id("other", [ids["b"]], 60)  # b is leased by another owner
    got = await store.claim_items_by_id("me", [ids["a"], ids["b"]], 60)
    assert [i.key for i in got] == ["a"]


async def test_transfers_show_only_items_still_downloading(store):
    from daemon.store import Transfer

    await store.add_items("sky", [spec("a"), spec("b")])
    a, b = await store.claim_items("me", 10, 60)
    await store.record_transfers([Transfer(a.id, "0000000000000001", "active", 10, 100, 5, 2),
                                  Transfer(b.id, "0000000000000002", "waiting", 0, 0, 0)])
    rows = await store.transfers()
    assert [(r["key"], r["completed_bytes"], r["total_bytes"]) for r in rows] == [("a", 10, 100),
                                                                                  ("b", 0, 0)]
    assert await store.mark_downloaded(a.id, "me", "a.jpg", 100, "f" * 64)
    assert [r["key"] for r in await store.transfers()] == ["b"]
    assert await store.mark_item_failed(b.id, "me", "not_found", "404")
    assert await store.transfers() == []


async def test_nodes_beat_and_show_the_leases_they_hold(store):
    await store.heartbeat("nas-a", "host1", 11, "0.1.0", "2025-01-01T00:00:00Z")
    await store.heartbeat("nas-b", "host2", 22, "0.1.0", "2025-01-01T00:00:00Z")
    await store.add_items("sky", [spec("a"), spec("b"), spec("c")])
    await store.claim_items("nas-a:11:daemon-downloader", 2, 60)
    await store.claim_items("nas-b:22:daemon-downloader", 1, 60)
    await store.node_stopped("nas-b", 22)
    nodes = {n["name"]: n for n in await store.nodes()}
    assert nodes["nas-a"]["downloading"] == 2 and nodes["nas-b"]["downloading"] == 1
    assert nodes["nas-a"]["stopped_at"] is None and nodes["nas-b"]["stopped_at"] is not None
    assert 0 <= nodes["nas-a"]["age_s"] < 5
    await store.heartbeat("nas-b", "host2", 23, "0.1.0", "2025-01-02T00:00:00Z")  # restarted
    assert {n["name"]: n["stopped_at"] for n in await store.nodes()}["nas-b"] is None


async def test_a_scheduled_run_is_taken_by_one_node(open_test_store):
    async with open_test_store() as one, open_test_store() as two, open_test_store() as three:
        outcomes = await asyncio.gather(*(s.claim_schedule("sky", node, 60) for s, node in
                                          ((one, "a"), (two, "b"), (three, "c"))))
        winners = [node for node, held in zip("abc", outcomes, strict=True) if held is None]
        assert len(winners) == 1
        assert {held for held in outcomes if held is not None} == set(winners)
        assert await one.claim_schedule("sky", winners[0], 60) is None  # the same node again
        assert await one.claim_schedule("other", "z", 60) is None  # per source
        await asyncio.sleep(0.05)
        assert await two.claim_schedule("sky", "q", 0.01) is None  # the next fire: anyone


async def test_work_wakes_listeners_on_postgresql(open_test_store, store_url):
    woken: dict[str, int] = {"items": 0, "results": 0}
    stop = asyncio.Event()
    async with open_test_store() as listener, open_test_store() as writer:
        wake = {name: (lambda name=name: woken.__setitem__(name, woken[name] + 1)) for name in woken}
        task = asyncio.create_task(listener.listen(wake, stop))
        for attempt in range(40):  # until LISTEN is in place (or, SQLite, a few rounds)
            await writer.add_items("sky", [spec(f"a{attempt}")])
            (item,) = await writer.claim_items("D", 1, 60)
            await writer.mark_downloaded(item.id, "D", "p", 1, "h")
            await asyncio.sleep(0.1)
            if (woken["items"] and woken["results"]) or (store_url is None and attempt == 4):
                break
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if store_url is None:  # SQLite: nobody is woken, components poll
        assert woken == {"items": 0, "results": 0}
    else:
        assert woken["items"] >= 1 and woken["results"] >= 1


async def test_a_dropped_connection_is_transient_on_postgresql(tmp_path):
    import psycopg

    from daemon.errors import StoreUnavailable

    name = f"harvestd_{uuid.uuid4().hex[:8]}"  # this store's connections only
    async with fresh_schema() as store_url, \
            open_store(tmp_path / "unused.db", f"{store_url}&application_name={name}") as store:
        await store.add_items("sky", [spec("a")])
        async with await psycopg.AsyncConnection.connect(store_url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = %s", (name,))
        outcomes = []
        for _ in range(3):  # the pool notices the dead connection, then makes a new one
            try:
                outcomes.append((await store.item_states("sky", ["a"]))["a"][0])
            except StoreUnavailable as exc:
                assert "PostgreSQL at postgresql://" in str(exc)
                outcomes.append("unavailable")
        assert outcomes[0] == "unavailable" and outcomes[-1] == "discovered", outcomes


async def test_a_percent_sign_in_sql_reaches_both_engines_as_written(open_test_store):
    async with open_test_store() as store:
        await store.add_items("sky", [spec("50%-cloud")])
        without = await store._read("SELECT key FROM items WHERE key = '50%-cloud'")  # no parameters
        with_one = await store._read("SELECT key FROM items WHERE key = '50%-cloud' AND source = ?", ("sky",))
        assert [r[0] for r in without] == [r[0] for r in with_one] == ["50%-cloud"]
