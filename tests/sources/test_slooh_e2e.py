"""slooh end to end against the imitation: login, both lists, FITS, downloads, marks."""

from __future__ import annotations

import os
from datetime import datetime

import structlog

from tests.sources.slooh_harness import PASSWORD, USER, library_files, rows, scheduled_run, slooh_config


async def test_first_run_mirrors_every_picture_and_fits_frame(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base)
    with structlog.testing.capture_logs() as logs:
        counts = await scheduled_run(cfg)
    expected = set(site.all_files())
    assert counts.total == len(expected) == 80 and counts.new == 80  # 20 missions × (2 PNG + 2 FITS)
    items = rows(cfg.db_path, "SELECT key, status, path, url, captured_at, metadata FROM items")
    assert {r["status"] for r in items} == {"processed"}
    assert all(site.files.requests[p] == 1 for p in expected)  # every file fetched once
    assert not any("rand=" in r["url"] for r in items)  # the cache-buster is not part of the URL
    files = library_files(cfg.library.root)
    assert len(files) == 80
    folders = {f.rsplit("/", 1)[0] for f in files}
    assert {"M42/Canary Two/Pictures", "M42/Canary Two/FITS", "NGC4833/Chile Two/FITS"} <= folders
    assert "Moon/Unknown/Pictures" in folders  # "Full Moon" with an empty telescope name
    assert "NGC3372/Chile Two/Pictures" in folders  # Eta Carinae Nebula and Caldwell 92: one folder
    assert "M45/Australia One/Pictures" in folders  # "Messier 45 " (trailing space)
    fits = [f for f in files if f.endswith(".fit")]
    assert len(fits) == 40 and all("/FITS/" in f for f in fits)
    assert all(f.split("/")[-1].startswith(f.split("/")[1] + "_") for f in files)  # {telescope}_{filename}
    blob = repr(logs)
    assert PASSWORD not in blob and USER not in blob
    assert site.logins == 1 and site.calls["getMissionFITS"] == 20
    for r in items:  # file times are the capture times (UTC)
        stamp = datetime.fromisoformat(r["captured_at"]).timestamp()
        assert abs(os.stat(cfg.library.root / r["path"]).st_mtime - stamp) < 1, r["path"]
