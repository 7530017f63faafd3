"""End to end: a backfill over a day against the imitation camera server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from daemon.backfill import collect_specs, run_backfill
from daemon.store import SqliteStore
from tests.integration.downloads.aria2_harness import require_aria2c

DAY = ("2024-06-15T00:00", "2024-06-15T23:59")
GAPS = {"2024-06-15T03:22", "2024-06-15T12:42", "2024-06-15T13:02", "2024-06-15T18:52", "2024-06-15T23:52"}
FLAKY = {"2024-06-15T12:02": 2, "2024-06-15T14:12": 1, "2024-06-15T15:32": 3, "2024-06-15T02:02": 1}


async def test_backfill_day_counts_files_and_results(skycam, write_config):
    site, base = skycam
    site.gaps |= GAPS
    site.unavailable.update(FLAKY)
    site.photo_keys.add("2024-06-15T16:02")
    _, cfg = write_config(base)

    # a first, smaller run so the day has duplicates (12:00–13:59 → 12 slots, 2 gaps)
    specs = await collect_specs(cfg, "sky", "2024-06-15T12:00", "2024-06-15T13:59")
    counts, interrupted = await run_backfill(cfg, "sky", specs)
    assert not interrupted
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (12, 10, 0, 2)

    specs = await collect_specs(cfg, "sky", *DAY)
    counts, _ = await run_backfill(cfg, "sky", specs)
    # 144 slots; the 12 earlier ones (2 of them 404) are duplicates; 3 more gaps fail
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (144, 129, 12, 3)

    async with SqliteStore.open(cfg.db_path) as store:
        rows = await store.result_rows("sky")
        states = await store.item_states("sky", [s.key for s in specs])
    assert len(rows) == 139  # one result per downloaded image
    assert {r["status"] for r in rows} == {"completed"}
    assert all(r["model"] == "rbr-baseline" and r["model_version"] == "1" for r in rows)
    for key in GAPS:
        assert states[key] == ("failed", "not_found")
    # files at the layout paths, nothing partial left behind
    for row in rows:
        path = cfg.library.root / row["path"]
        assert path.is_file() and path.stat().st_size > 1000
        stamp = row["key"].replace("-", "").replace("T", "").replace(":", "")  # 202406151202
        assert row["path"] == f"sky/2024/06/15/2024-{stamp[4:]}.jpg"
    assert not list(cfg.library.root.rglob("*.part"))
    # the year folder was used for a past year; flaky slots were retried
    assert site.requests["2024/2024-06151202.jpg"] == 3
    # night vs day: octas only where the sun was up; daytime octas match the truth
    day = [r for r in rows if r["octas"] is not None]
    night = [r for r in rows if '"night"' in r["output"]]
    assert len(day) + len(night) == 139 and len(day) > 40 and len(night) > 60
    for r in day:
        if r["key"] in site.photo_keys:
            continue
        truth = site.served[r["key"]]
        assert abs(r["cloud_fraction"] - truth) < 0.03, (r["key"], r["cloud_fraction"], truth)

    # a second run is all duplicates and fetches nothing
    before = sum(site.requests.values())
    counts, _ = await run_backfill(cfg, "sky", specs)
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (144, 0, 144, 0)
    assert sum(site.requests.values()) == before


async def test_backfill_retries_transient_failures_on_rerun(skycam, write_config):
    site, base = skycam
    site.unavailable["2024-06-15T12:02"] = 4  # as many 503s as the 4 attempts of one run
    site.corrupt_keys.add("2024-06-15T12:12")
    _, cfg = write_config(base)
    specs = await collect_specs(cfg, "sky", "2024-06-15T12:00", "2024-06-15T12:59")
    counts, _ = await run_backfill(cfg, "sky", specs)
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (6, 4, 0, 2)
    assert not (cfg.library.root / "sky/2024/06/15/2024-06151212.jpg").exists()
    assert not list(cfg.library.root.rglob("*.part"))
    async with SqliteStore.open(cfg.db_path) as store:
        errors = {e["key"]: e["error"] for e in await store.last_errors()}
    assert "HTTP 503 after 4 attempts" in errors["2024-06-15T12:02"]
    assert "corrupt" in errors["2024-06-15T12:12"]

    site.corrupt_keys.clear()
    counts, _ = await run_backfill(cfg, "sky", specs)
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (6, 2, 4, 0)


async def run_cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_backfill_cli_summary_line_and_bad_ranges(skycam, write_config, tmp_path):
    site, base = skycam
    site.gaps.add("2024-06-15T12:22")
    path, _ = write_config(base)
    code, out, err = await run_cli("backfill", "sky", "--since", "2024-06-15T12:00",
                                   "--until", "2024-06-15T12:59", "--config", str(path), cwd=tmp_path)
    assert code == 0, err
    assert out == "backfill sky: total=6 new=5 duplicates=0 failed=1\n"
    assert "source=sky key=2024-06-15T12:22" in err  # the 404 is logged with its item

    code, out, err = await run_cli("status", "--config", str(path), cwd=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("library ") and lines[1].endswith(": ok")
    assert any(ln.split() == ["sky", "processed", "5"] for ln in lines)
    assert any(ln.split() == ["sky", "failed", "1"] for ln in lines)
    assert any(ln.split() == ["sky", "octas", "completed", "5"] for ln in lines)
    assert any("sky backfill" in ln and "total=6 new=5 duplicates=0 failed=1" in ln for ln in lines)
    assert any("key=2024-06-15T12:22 [download] not found (HTTP 404)" in ln for ln in lines)

    code, out, err = await run_cli("backfill", "sky", "--since", "2024-06-15T12:00",
                                   "--until", "2024-06-14T12:00", "--config", str(path), cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err.strip() == "harvestd backfill: --until 2024-06-14T12:00 is before --since 2024-06-15T12:00"

    code, out, err = await run_cli("backfill", "sky", "--since", "yesterday",
                                   "--until", "2024-06-14T12:00", "--config", str(path), cwd=tmp_path)
    assert code == 2 and "bad timestamp 'yesterday'" in err and len(err.strip().splitlines()) == 1


async def test_backfill_through_aria2c_downloads_verifies_and_classifies(skycam, write_config):
    require_aria2c()
    site, base = skycam
    site.gaps.add("2024-06-15T12:22")
    site.corrupt_keys.add("2024-06-15T12:42")  # a truncated JPEG must never be published
    _, cfg = write_config(base, backend="aria2")
    specs = await collect_specs(cfg, "sky", "2024-06-15T12:00", "2024-06-15T13:59")
    counts, interrupted = await run_backfill(cfg, "sky", specs)
    assert not interrupted
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (12, 10, 0, 2)
    async with SqliteStore.open(cfg.db_path) as store:
        rows = await store.result_rows("sky")
        states = await store.item_states("sky", [s.key for s in specs])
    assert states["2024-06-15T12:22"] == ("failed", "not_found")
    assert states["2024-06-15T12:42"] == ("failed", "corrupt")
    assert len(rows) == 10 and {r["status"] for r in rows} == {"completed"}
    published = sorted(p.relative_to(cfg.library.root).as_posix()
                       for p in cfg.library.root.rglob("*") if p.is_file())
    assert published == sorted(r["path"] for r in rows)  # staging empty, no .aria2 files
