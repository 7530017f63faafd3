"""The SQLite store: migrations, WAL, idempotent inserts, leases that lose nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from daemon.store import NewItem, SqliteStore
from daemon.store.sqlite import _migrations

LATEST = max(number for number, _sql in _migrations())  # the newest migration's number


def spec(key: str, processors: tuple[str, ...] = ("octas",)) -> NewItem:
    return NewItem(key=key, url=f"http://x/{key}.jpg", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                   path=f"sky/{key}.jpg", processors=processors, metadata={"latitude": 1.0})


async def test_schema_pragmas_and_idempotent_inserts(tmp_path):
    db = tmp_path / "h.db"
    async with SqliteStore.open(db) as store:
        assert await store.schema_version() == LATEST
        assert await store.add_items("sky", [spec("a"), spec("b")]) == {"a", "b"}
        assert await store.add_items("sky", [spec("a"), spec("c")]) == {"c"}
        assert await store.add_items("other", [spec("a")]) == {"a"}  # UNIQUE(source, key)
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert raw.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4
    raw.close()
    async with SqliteStore.open(db) as store:  # reopening does not re-run migrations
        assert await store.schema_version() == LATEST


async def test_version_1_database_is_upgraded_in_place(tmp_path):
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    raw.executescript((Path(__file__).parents[3] / "daemon/store/migrations/0001_initial.sql").read_text())
    raw.execute("INSERT INTO items (source, key, created_at, updated_at) VALUES ('sky', 'k', 'x', 'x')")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    async with SqliteStore.open(db) as store:
        assert await store.schema_version() == LATEST
        assert await store.add_items("sky", [NewItem("k2", "http://x/k2", datetime(2025, 1, 1, tzinfo=UTC),
                                                     "k2.jpg", checksum="md5=00")]) == {"k2"}
        claimed = await store.claim_items("me", 10, 60)
    assert {(i.key, i.checksum) for i in claimed} == {("k", None), ("k2", "md5=00")}
