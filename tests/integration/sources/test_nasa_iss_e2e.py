"""nasa_iss end to end against the imitation eol.jsc.nasa.gov: API → pages → downloads → store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from daemon.backfill import BackfillError, collect_specs, run_backfill
from daemon.config.load import load_config
from daemon.config.root import Config
from daemon.sources.nasa_iss.api import ApiError
from tests.conftest import fast_config_head, serve_app
from tests.fakes.nasa_eol_server import EolSite, reference_photos
from tests.integration.downloads.aria2_harness import require_aria2c
from tests.procs import cli_runner

API_KEY = "k3y-f0r-t3sts-0nly"


@pytest.fixture
async def eol() -> AsyncIterator[tuple[EolSite, str]]:
    site = EolSite(reference_photos(), api_keys={API_KEY})
    async with serve_app(site.app()) as base:
        yield site, base.rstrip("/")


def iss_config(tmp_path: Path, base_url: str, extra: str = "", backend: str = "builtin") -> Config:
    path = tmp_path / "config.toml"
    path.write_text(fast_config_head(backend) + f"""
[sources.iss]
kind = "nasa_iss"
api_key = "${{NASA_EOL_API_KEY}}"
base_url = "{base_url}"
window_days = 3650
requests_per_minute = 6000
{extra}
""", encoding="utf-8")
    return load_config(path, env={"NASA_EOL_API_KEY": API_KEY})


def rows(db: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["builtin", "aria2"])
async def test_backfill_mirrors_photos_with_metadata_geotiff_and_camera_files(eol, tmp_path, backend):
    if backend == "aria2":
        require_aria2c()
    site, base = eol
    site.older_markup.add("ISS001-E-6000")  # one photo page in the older markup
    cfg = iss_config(tmp_path, base, backend=backend)
    with structlog.testing.capture_logs() as logs:
        specs = await collect_specs(cfg, "iss", "2000-01-01", "2012-12-31")
        counts, _ = await run_backfill(cfg, "iss", specs)
    assert len(specs) == 3  # one per photo (two sizes each on the site), ART002 has no catalogue row
    # 3 images + 3 camera files + 1 GeoTIFF (only ISS026 offers one)
    assert (counts.total, counts.new, counts.failed) == (7, 7, 0)
    assert API_KEY not in repr(logs)
    photos = {r["nasa_id"]: r for r in rows(cfg.db_path, "SELECT * FROM iss_photos")}
    assert set(photos) == {"ISS001-E-6000", "ISS006-E-44608", "ISS026-E-16456"}
    p = photos["ISS006-E-44608"]
    assert (p["mission"], p["roll"], p["frame"], p["date"], p["time"]) == ("ISS006", "E", "44608",
                                                                          "2003-04-11", "03:14:56")
    assert (p["lat"], p["lon"], p["nadir_lat"], p["nadir_lon"]) == (9.5, -80.0, 10.0, -78.6)
    assert p["camera"] == "E4" and p["camera_description"] == "Kodak DCS760c Electronic Still Camera"
    assert (p["focal_length_mm"], p["film"], p["cloud_cover_pct"]) == (58, "3060E", 10)
    assert p["altitude_km"] == 389
    assert p["file_path"] == "iss/2003/ISS006/E4/ISS006-E-44608.JPG"
    assert p["camera_metadata_path"] == "camera_data/ISS006-E-44608.txt"
    assert p["geotiff_available"] == 0 and p["geotiff_path"] is None
    g = photos["ISS026-E-16456"]
    assert g["geotiff_available"] == 1 and g["geotiff_path"] == "iss/2011/ISS026/N5/ISS026-E-16456.tif"
    assert photos["ISS001-E-6000"]["lon"] == 0.5  # ".5" from the API; the old markup parsed too
    root = cfg.library.root
    for r in photos.values():
        assert (root / r["file_path"]).stat().st_size > 1000
        assert "Camera file for" in (root / r["camera_metadata_path"]).read_text()
    assert (root / g["geotiff_path"]).read_bytes()[:2] in (b"II", b"MM")
    assert site.files.requests["ESC/large/ISS006/ISS006-E-44608.JPG"]  # the large size was fetched
    assert not site.files.requests["ESC/small/ISS006/ISS006-E-44608.JPG"]

    pages_before = site.requests["page"]
    counts, _ = await run_backfill(cfg, "iss", await collect_specs(cfg, "iss", "2000-01-01", "2012-12-31"))
    # idempotent: nothing enriched or fetched again; the same total as the first run (issue 13:
    # it said total=3 here, the photos only, as companions are only made by enrichment)
    assert (counts.total, counts.new, counts.duplicates, counts.failed) == (7, 0, 7, 0)
    assert site.requests["page"] == pages_before  # known photos are not enriched again
    assert len(rows(cfg.db_path, "SELECT * FROM iss_photos")) == 3


async def test_a_broken_page_fails_only_its_photo(eol, tmp_path):
    site, base = eol
    site.broken_pages.add("ISS026-E-16456")
    cfg = iss_config(tmp_path, base, 'missions = ["ISS026", "ISS006"]\ngeotiff = false')
    specs = await collect_specs(cfg, "iss", "2000-01-01", "2012-12-31")
    counts, _ = await run_backfill(cfg, "iss", specs)
    assert (counts.total, counts.failed) == (3, 1)  # two photos, one camera file, one failure
    bad = rows(cfg.db_path, "SELECT status, error_code, last_error FROM items WHERE key = 'ISS026-E-16456'")[0]
    assert (bad["status"], bad["error_code"]) == ("failed", "parse_error")
    assert "not a photo page" in bad["last_error"]
    [good] = rows(cfg.db_path, "SELECT status FROM items WHERE key = 'ISS006-E-44608'")
    assert good["status"] == "processed"
    # one query per mission (no OR in the API) and per date window of at most 3650 days
    windows = ["ge|20000101|frames|pdate|le|20091228", "ge|20091229|frames|pdate|le|20121231"]
    assert site.queries == [f"frames|mission|eq|{m}|frames|pdate|{w}|images|directory|like|*large*"
                            for m in ("ISS026", "ISS006") for w in windows]


async def test_bad_key_and_bad_range_are_clear_errors(eol, tmp_path):
    _site, base = eol
    cfg = iss_config(tmp_path, base)
    with pytest.raises(BackfillError, match="before"):
        await collect_specs(cfg, "iss", "2012-01-01", "2011-01-01")
    bad_key = cfg.sources["iss"].model_copy(update={"api_key": "nope"})
    wrong = cfg.model_copy(update={"sources": {"iss": bad_key}})
    with pytest.raises(ApiError, match="Invalid API key"):
        await collect_specs(wrong, "iss", "2000-01-01", "2012-12-31")


async def test_import_cli_ingests_saved_api_rows(eol, tmp_path):
    _site, base = eol
    cfg = iss_config(tmp_path, base)
    saved = tmp_path / "resultados.json"
    saved.write_text(json.dumps([
        {"images.directory": "ESC/large/ISS006", "images.filename": "ISS006-E-44608.JPG",
         "frames.mission": "ISS006", "frames.roll": "E", "frames.frame": "44608", "frames.pdate": "20030411",
         "frames.ptime": "031456", "frames.lat": "9.5", "frames.lon": "-80.0", "frames.camera": "E4"},
        {"images.directory": "ESC/small/ISS006", "images.filename": "ISS006-E-44608.JPG",
         "frames.mission": "ISS006", "frames.roll": "E", "frames.frame": "44608"},
    ]))
    env = {"NASA_EOL_API_KEY": API_KEY, "PATH": "/usr/bin:/bin"}

    cli = cli_runner(tmp_path / "config.toml", env)

    code, out, err = await cli("import", "iss", str(saved))
    assert code == 0, err
    assert out == "import iss: total=2 new=2 duplicates=0 failed=0\n"  # the photo and its camera file
    assert API_KEY not in err
    assert (cfg.library.root / "iss/2003/ISS006/E4/ISS006-E-44608.JPG").is_file()
    code, _out, err = await cli("import", "iss", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    (tmp_path / "bad.json").write_text('{"result": "not a list"}')
    code, _out, err = await cli("import", "iss", str(tmp_path / "bad.json"))
    assert code == 2 and "JSON list" in err


async def test_an_image_missing_on_the_site_is_a_final_not_found(eol, tmp_path):
    site, base = eol
    site.missing_images.add("ISS006-E-44608")
    cfg = iss_config(tmp_path, base, 'missions = ["ISS006"]')
    counts, _ = await run_backfill(cfg, "iss", await collect_specs(cfg, "iss", "2000-01-01", "2012-12-31"))
    assert (counts.total, counts.new, counts.failed) == (2, 1, 1)  # the camera file still arrives
    [photo] = rows(cfg.db_path, "SELECT status, error_code FROM items WHERE key = 'ISS006-E-44608'")
    assert (photo["status"], photo["error_code"]) == ("failed", "not_found")
    [view] = rows(cfg.db_path, "SELECT file_path, camera_metadata_path FROM iss_photos")
    assert view["file_path"] is None and view["camera_metadata_path"] == "camera_data/ISS006-E-44608.txt"
