"""``harvestd retry`` / ``stats`` / ``backfill`` for a slooh source, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.backfill import BackfillError, collect_specs
from tests.integration.sources.slooh_harness import (
    PASSWORD,
    USER,
    library_files,
    rows,
    scheduled_run,
    slooh_config,
)
from tests.procs import cli_runner


def slooh_cli(tmp_path: Path, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    env = {"SLOOH_USERNAME": USER, "SLOOH_PASSWORD": password, "PATH": "/usr/bin:/bin"}
    return cli_runner(tmp_path / "config.toml", env)


async def test_stats_then_retry_then_stats(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base, 'formats = ["png"]')
    roll = site.photo_roll()
    site.files.send_digest = True
    site.files.corrupt[roll[0]["path"]] = 2  # checksum failure
    saved = site.files.files.pop(roll[1]["path"])  # 404: not_found
    await scheduled_run(cfg)
    cli = slooh_cli(tmp_path)

    code, out, err = await cli("stats", "slooh")
    assert code == 0, err
    assert "slooh (slooh)" in out
    assert "items: 40 total, 38 downloaded, 2 failed, 0 waiting; success rate 95.0%" in out
    assert "runs (sessions): 1 (schedule 1), 0 failed" in out
    assert "failures by code: checksum 1, not_found 1" in out
    assert "library folders: 38 files recorded, 38 on disk" in out
    assert "last download 20" in out and "top folders: " in out

    site.files.files[roll[1]["path"]] = saved  # the site is fixed
    code, out, err = await cli("retry", "slooh", "--code", "not_found")
    assert code == 0, err
    assert out == "retry slooh: total=1 new=1 duplicates=0 failed=0\n"
    code, out, err = await cli("retry")  # every source: the checksum failure, fetched once more
    assert code == 0, err
    assert out == "retry slooh: total=1 new=1 duplicates=0 failed=0\n"
    assert site.files.requests[roll[0]["path"]] == 3  # 2 damaged at first, 1 good on retry
    assert len(library_files(cfg.library.root)) == 40
    code, out, _ = await cli("retry", "slooh")
    assert (code, out) == (0, "retry slooh: nothing failed\n")

    code, out, err = await cli("stats")
    assert code == 0, err
    assert "items: 40 total, 40 downloaded, 0 failed, 0 waiting; success rate 100.0%" in out
    assert "runs (sessions): 3 (retry 2, schedule 1), 0 failed" in out
    assert "library folders: 40 files recorded, 40 on disk" in out
    assert PASSWORD not in out + err and USER not in out + err

    code, _out, err = await cli("retry", "nope")
    assert code == 2 and "unknown source 'nope'" in err
    code, _out, err = await cli("stats", "nope")
    assert code == 2 and "unknown source 'nope'" in err


async def test_backfill_walks_everything_or_a_date_window(slooh, tmp_path):
    _site, base = slooh
    cfg = slooh_config(tmp_path, base)
    everything = await collect_specs(cfg, "slooh", None, None)
    assert len(everything) == 80
    window = await collect_specs(cfg, "slooh", "2026-02-06", "2026-02-07")
    days = {s.captured_at.date().isoformat() for s in window}
    assert days and days <= {"2026-02-06", "2026-02-07"}
    expected = [s for s in everything if s.captured_at.date().isoformat() in ("2026-02-06", "2026-02-07")]
    assert sorted(s.key for s in window) == sorted(s.key for s in expected)
    with pytest.raises(BackfillError, match="before"):
        await collect_specs(cfg, "slooh", "2026-02-07", "2026-02-01")

    cli = slooh_cli(tmp_path)
    code, out, err = await cli("backfill", "slooh", "--full")
    assert code == 0, err
    assert out == "backfill slooh: total=80 new=80 duplicates=0 failed=0\n"
    assert len(library_files(cfg.library.root)) == 80
    code, _out, err = await cli("backfill", "slooh", "--full", "--since", "2026-01-01")
    assert code == 2 and "--full" in err
    # a backfill moves no mark: the next scheduled run still walks down to the end once
    assert rows(cfg.db_path, "SELECT * FROM source_state") == []


async def test_backfill_with_a_refused_login_is_one_clear_line(slooh, tmp_path):
    _site, base = slooh
    slooh_config(tmp_path, base)
    cli = slooh_cli(tmp_path)
    code, _out, err = await slooh_cli(tmp_path, password="wrong-password")("backfill", "slooh")
    assert code == 1
    assert "harvestd backfill: slooh: login refused: Invalid username or password." in err
    assert "Traceback" not in err and "wrong-password" not in err
    code, _out, err2 = await cli("backfill", "slooh", "--since", "2026-02-07")  # open-ended is fine
    assert code == 0, err2


async def test_backfill_one_mission(slooh, tmp_path):
    """Issue 17: ``--mission ID`` (the seed's ``--mission <id>``): that mission's pictures and
    FITS frames only, filed under its object and telescope."""
    site, base = slooh
    cfg = slooh_config(tmp_path, base)
    mission = site.missions[7]
    cli = slooh_cli(tmp_path)
    code, out, err = await cli("backfill", "slooh", "--mission", str(mission.mission_id), "--no-progress")
    assert code == 0, err
    assert out.strip() == "backfill slooh: total=4 new=4 duplicates=0 failed=0"
    got = rows(cfg.db_path, "SELECT key, json_extract(metadata, '$.mission_id') AS m, path FROM items")
    assert {r["m"] for r in got} == {mission.mission_id} and len(got) == 4
    assert sorted(r["key"].split(":")[1] for r in got) == ["fits", "fits", "png", "png"]
    files = library_files(cfg.library.root)
    assert len(files) == 4 and all(mission.telescope.split()[0] in f for f in files), files
    # that mission's calls only: no walk over the photo roll or the missions list
    assert set(site.calls) == {"generateSessionToken", "login", "getMyPictures", "getMissionFITS"}
    assert site.calls["getMissionFITS"] == 1
    code, out, _ = await cli("backfill", "slooh", "--mission", str(mission.mission_id), "--no-progress")
    assert code == 0 and out.strip() == "backfill slooh: total=4 new=0 duplicates=4 failed=0"
    code, _out, err = await cli("backfill", "slooh", "--mission", "999", "--no-progress")
    assert code == 1 and "mission 999 has no pictures or FITS frames in this account" in err
    code, _out, err = await cli("backfill", "slooh", "--mission", "1", "--full")
    assert code == 2 and "--mission takes one mission" in err
