"""The commands that read the store work on a PostgreSQL store ([store] url) as on SQLite:
``status``, ``stats`` and ``retry`` read it (no SQLite file needed); ``backup`` (SQLite's
online copy) says to use pg_dump instead."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

from daemon.store import NewItem, open_store
from tests.conftest import skycam_config_text
from tests.pg import fresh_schema


def cli(config, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "daemon", *args, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=config.parent,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def test_status_stats_and_retry_read_postgresql_and_backup_says_pg_dump(tmp_path):
    async with fresh_schema() as url:
        config = tmp_path / "config.toml"
        text = skycam_config_text("http://127.0.0.1:9/") + f'[store]\nurl = "{url}"\n'
        config.write_text(text, encoding="utf-8")
        async with open_store(tmp_path / "unused.db", url) as store:
            bad = NewItem("k1", "http://127.0.0.1:9/k1.jpg", datetime(2025, 1, 1, tzinfo=UTC), "sky/k1.jpg",
                          error=("not_found", "HTTP 404"))
            await store.add_items("sky", [bad])
            await store.heartbeat("nas-a", "host", 1, "0.1.0", "2025-01-01T00:00:00Z")
        readers = (("status",), ("stats", "sky"), ("backup", str(tmp_path / "b.db")))
        status, stats, backup = await asyncio.gather(*(asyncio.to_thread(cli, config, *c) for c in readers))
        retry = await asyncio.to_thread(cli, config, "retry", "sky", "--no-download")
        assert status.returncode == 0, status.stderr
        assert "database postgresql://" in status.stdout and "nas-a" in status.stdout
        assert "sky" in status.stdout and "failed" in status.stdout
        assert stats.returncode == 0 and "1 failed" in stats.stdout, stats.stdout + stats.stderr
        assert retry.returncode == 0 and "requeued=1" in retry.stdout, retry.stdout + retry.stderr
        assert backup.returncode == 2 and "pg_dump" in backup.stderr
        assert not (tmp_path / "data" / "harvest.db").exists()  # no SQLite file was made
