"""``harvestd stats`` and ``harvestd retry`` work for every source kind (here the sky camera)."""

from __future__ import annotations

from daemon.backfill import collect_specs, run_backfill
from daemon.config.load import load_config
from tests.conftest import skycam_config_text
from tests.procs import cli_runner


async def test_stats_and_retry_for_a_sky_camera(skycam, tmp_path):
    site, base = skycam
    (tmp_path / "config.toml").write_text(skycam_config_text(base), encoding="utf-8")
    cfg = load_config(tmp_path / "config.toml")
    site.corrupt_keys.add("2025-01-01T00:12")  # truncated JPEG: failed as corrupt
    counts, _ = await run_backfill(cfg, "sky", await collect_specs(cfg, "sky", "2025-01-01T00:00",
                                                                   "2025-01-01T00:59"))
    assert (counts.total, counts.failed) == (6, 1)

    cli = cli_runner(tmp_path / "config.toml", {"PATH": "/usr/bin:/bin"})

    code, out, err = await cli("stats", "sky")
    assert code == 0, err
    assert "sky (skycam)" in out
    assert "items: 6 total, 5 downloaded, 1 failed, 0 waiting; success rate 83.3%" in out
    assert "runs (sessions): 1 (backfill 1), 0 failed" in out and "failures by code: corrupt 1" in out
    assert "library folders: 5 files recorded, 5 on disk" in out and "top folders: sky 5" in out

    site.corrupt_keys.clear()
    code, out, err = await cli("retry", "--no-download")
    assert (code, out) == (0, "retry sky: requeued=1\n"), err
    code, out, err = await cli("retry", "sky")
    assert (code, out) == (0, "retry sky: nothing failed\n"), err  # already queued, not failed
    code, out, err = await cli("stats")
    assert "1 waiting" in out, err  # the daemon (not running here) would fetch it at its next poll


async def test_status_lists_a_result_stored_without_its_source(tmp_path):
    """A result row with a NULL source (inserted by hand, or by a tool that predates
    migration 0010) is listed under "-", never a crash of ``harvestd status``."""
    import sqlite3
    from datetime import UTC, datetime

    from daemon.store import SqliteStore
    from daemon.store.models import NewItem

    (tmp_path / "config.toml").write_text('data_dir = "data"\n', encoding="utf-8")
    cfg = load_config(tmp_path / "config.toml")
    cfg.data_dir.mkdir()
    async with SqliteStore.open(cfg.db_path) as store:
        captured = datetime(2025, 1, 1, tzinfo=UTC)
        await store.add_items("sky", [NewItem("k", "http://h/k.jpg", captured, "k.jpg")])
    db = sqlite3.connect(cfg.db_path)
    with db:
        db.execute("INSERT INTO results (item_id, processor, status, created_at, updated_at)"
                   " SELECT id, 'octas', 'pending', 'x', 'x' FROM items")
    db.close()
    code, out, err = await cli_runner(tmp_path / "config.toml", {"PATH": "/usr/bin:/bin"})("status")
    assert code == 0, err
    assert "  -                octas      pending             1" in out
