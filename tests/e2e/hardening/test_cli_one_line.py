"""Issue 11 items 9 and 20: a damaged database and a refused API key are one clear line,
never a traceback (CLI and daemon)."""

from __future__ import annotations

import asyncio
import os
import sqlite3

from daemon.store import SqliteStore
from tests.integration.sources.test_nasa_iss_e2e import API_KEY, iss_config
from tests.integration.sources.test_nasa_iss_e2e import eol as eol  # the fixture
from tests.procs import DaemonProcess, cli_runner


async def test_a_wrong_nasa_key_is_one_line_at_the_cli(eol, tmp_path):
    _site, base = eol
    iss_config(tmp_path, base)
    cli = cli_runner(tmp_path / "config.toml", {**os.environ, "NASA_EOL_API_KEY": "wrong-key"})
    code, _out, err = await cli("backfill", "iss", "--since", "2003-01-01", "--until", "2003-12-31",
                                "--log-format", "logfmt")
    assert code == 1, err
    assert "Invalid API key" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 2, err
    assert API_KEY not in err


def garble(db, offset_pages: int = 1) -> None:
    """Overwrite pages of the file after the header with noise (a failing disk)."""
    data = bytearray(db.read_bytes())
    page = 4096
    for i in range(page * offset_pages, len(data), 97):
        data[i] = (data[i] * 31 + 7) & 0xFF
    db.write_bytes(bytes(data))


async def damaged_db(tmp_path, how: str):
    cfg = iss_config(tmp_path, "http://127.0.0.1:9")
    async with SqliteStore.open(cfg.db_path) as store:
        await store.start_run("iss", "schedule")
    raw = sqlite3.connect(cfg.db_path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    if how == "truncated":
        size = cfg.db_path.stat().st_size
        with cfg.db_path.open("r+b") as fh:
            fh.truncate(size // 2)
    elif how == "garbled":
        garble(cfg.db_path)
    else:
        cfg.db_path.write_bytes(b"this is not a database at all" * 100)
    return cfg


async def test_a_damaged_database_is_one_line_for_every_command(tmp_path):
    for how in ("truncated", "garbled", "not-sqlite"):
        folder = tmp_path / how
        folder.mkdir()
        cfg = await damaged_db(folder, how)
        cli = cli_runner(folder / "config.toml", {**os.environ, "NASA_EOL_API_KEY": API_KEY})
        for args in (("status",), ("stats",), ("backfill", "iss", "--since", "2003-01-01", "--until",
                                               "2003-01-02", "--log-format", "logfmt")):
            code, _out, err = await cli(*args)
            assert code != 0, (how, args, err)
            assert "Traceback" not in err and str(cfg.db_path) in err, (how, args, err)
            assert "damaged" in err and "restore" in err, (how, args, err)
            assert len(err.strip().splitlines()) <= 2, (how, args, err)
        daemon = await DaemonProcess.start(folder / "config.toml", folder,
                                           {**os.environ, "NASA_EOL_API_KEY": API_KEY})
        assert await asyncio.wait_for(daemon.proc.wait(), 60) != 0
        await daemon._reader
        assert [e["event"] for e in daemon.events if e["level"] in ("error", "critical")] == ["startup_failed"]
        assert not any("Traceback" in line for line in daemon.raw), daemon.raw
