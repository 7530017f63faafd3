"""``harvestd backup`` while the store is being written, and the README's restore procedure."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from datetime import UTC, datetime

from daemon.store import NewItem, SqliteStore
from tests.procs import cli_runner


def writer(db, stop: threading.Event, written: list[int]) -> None:
    """Another process's writer: an item a commit, as fast as it can, until ``stop``."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    n = 0
    while not stop.is_set():
        conn.execute("INSERT INTO items (source, key, url, status, created_at, updated_at)"
                     " VALUES ('load', ?, 'http://x/', 'discovered', 't', 't')", (f"w{n}",))
        n += 1
        written.append(n)
    conn.close()


async def test_a_backup_under_writes_is_consistent_and_the_restore_procedure_works(write_config, tmp_path):
    config, cfg = write_config("http://127.0.0.1:9/")
    async with SqliteStore.open(cfg.db_path) as store:
        specs = [NewItem(key=f"k{i}", url=f"http://x/{i}", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                         path=f"p/{i}") for i in range(5000)]
        await store.add_items("sky", specs)
    cli = cli_runner(config, {**os.environ})
    backups = tmp_path / "backups"
    backups.mkdir()
    stop, written = threading.Event(), []
    load = threading.Thread(target=writer, args=(cfg.db_path, stop, written))
    load.start()
    try:
        await asyncio.sleep(0.3)
        code, out, err = await cli("backup", str(backups))
    finally:
        stop.set()
        load.join()
    assert code == 0, err
    (copy,) = list(backups.iterdir())  # one file, no partial one beside it
    assert out.startswith(f"backup {copy}:") and "integrity ok" in out
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM items WHERE source = 'sky'").fetchone()[0] == 5000
    in_copy = conn.execute("SELECT COUNT(*) FROM items WHERE source = 'load'").fetchone()[0]
    conn.close()
    assert 0 < in_copy <= len(written)  # a snapshot taken while the writer ran
    code, _out, err = await cli("backup", str(copy))
    assert code == 1 and "exists" in err  # never overwritten

    # the disk garbles the live file: every command says so in one line
    data = bytearray(cfg.db_path.read_bytes())
    data[4096:8192] = bytes(4096)
    cfg.db_path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        cfg.db_path.with_name(cfg.db_path.name + suffix).unlink(missing_ok=True)
    code, _out, err = await cli("status")
    assert code == 1 and "damaged" in err and "restore" in err, err
    # the restore procedure of the README, step by step
    cfg.db_path.rename(cfg.db_path.with_name("harvest.db.damaged"))
    for suffix in ("-wal", "-shm"):
        cfg.db_path.with_name(cfg.db_path.name + suffix).unlink(missing_ok=True)
    shutil.copy2(copy, cfg.db_path)
    code, out, err = await cli("status")
    assert code == 0, err
    assert "sky" in out and "5000" in out
