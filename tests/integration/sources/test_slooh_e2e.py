"""slooh end to end against the imitation: login, both lists, FITS, downloads, marks."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
import structlog

from daemon.sources.slooh.api import SloohSessionError
from tests.fakes.slooh_server import png_bytes
from tests.integration.downloads.aria2_harness import require_aria2c
from tests.integration.sources.slooh_harness import (
    PASSWORD,
    USER,
    library_files,
    rows,
    scheduled_run,
    slooh_config,
)


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


async def test_the_next_run_fetches_only_new_items_and_stops_at_the_mark(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base)
    await scheduled_run(cfg)
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert set(state) == {"pictures_mark", "missions_mark", "missions_listed", "pictures_walk"}
    assert len(state["pictures_mark"]) == len(state["missions_mark"]) == 5
    assert state["missions_listed"] == [] and state["pictures_walk"] is None  # walks complete
    before = dict(site.files.requests)
    calls = dict(site.calls)
    site.add_mission()
    site.add_mission()  # 2 new missions: 4 PNG + 4 FITS on top of both lists
    counts = await scheduled_run(cfg)
    assert (counts.total, counts.new) == (8, 8)
    fetched = {p: n - before.get(p, 0) for p, n in site.files.requests.items() if n - before.get(p, 0)}
    assert len(fetched) == 8 and set(fetched.values()) == {1}  # exactly the new files, once each
    assert site.calls["getMyPictures"] - calls["getMyPictures"] == 1  # the mark is on page 1
    assert site.calls["getMissionImages"] - calls["getMissionImages"] == 1
    assert site.calls["getMissionFITS"] - calls["getMissionFITS"] == 2  # only the new missions
    assert len(library_files(cfg.library.root)) == 88


async def test_an_interrupted_run_resumes_without_holes(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base)
    site.refuse_after_calls = 2  # the API goes away after two photo-roll pages
    with pytest.raises(SloohSessionError):
        await scheduled_run(cfg)
    stored = rows(cfg.db_path, "SELECT key, status FROM items")
    assert len(stored) == 10 and {r["status"] for r in stored} == {"processed"}  # pages 1–2 kept
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert "pictures_mark" not in state  # no mark past a hole
    assert state["pictures_walk"]["count"] == 10  # how far the unfinished walk got
    [run] = rows(cfg.db_path, "SELECT status, error FROM runs")
    assert run["status"] == "failed" and "expired again" in run["error"]

    site.always_expire, site.refuse_after_calls = False, None
    counts = await scheduled_run(cfg)
    # page 1 again (5 duplicates), then a verified jump over the rest of what was stored
    assert (counts.total, counts.new, counts.duplicates) == (75, 70, 5)
    assert set(site.files.requests) == set(site.all_files())
    assert set(site.files.requests.values()) == {1}  # over both runs, every file fetched once
    assert len(library_files(cfg.library.root)) == 80


@pytest.mark.parametrize("policy", ["skip", "overwrite", "rename"])
async def test_duplicate_policy_for_a_file_already_in_the_library(slooh, tmp_path, policy):
    site, base = slooh
    cfg = slooh_config(tmp_path, base, f'formats = ["png"]\nduplicates = "{policy}"')
    newest = site.photo_roll()[0]
    path = cfg.library.root / "M42/Canary Two/Pictures" / f"Canary Two_{newest['path'].rsplit('/', 1)[1]}"
    path.parent.mkdir(parents=True)
    placed = site.files.files[newest["path"]] if policy == "skip" else png_bytes("an older copy")
    path.write_bytes(placed)
    await scheduled_run(cfg)
    siblings = sorted(p.name for p in path.parent.iterdir())
    if policy == "skip":  # a complete, valid file is recorded, not fetched again
        assert site.files.requests[newest["path"]] == 0 and path.read_bytes() == placed
    elif policy == "overwrite":
        assert site.files.requests[newest["path"]] == 1
        assert path.read_bytes() == site.files.files[newest["path"]]
    else:  # rename: both kept
        assert path.read_bytes() == placed
        renamed = path.with_name(f"{path.stem}-1{path.suffix}")
        assert renamed.read_bytes() == site.files.files[newest["path"]] and renamed.name in siblings
    assert len(library_files(cfg.library.root)) == 40 + (policy == "rename")


@pytest.mark.parametrize("backend", ["builtin", "aria2"])
async def test_md5_mismatch_is_fetched_again_then_failed_with_the_reason(slooh, tmp_path, backend):
    if backend == "aria2":
        require_aria2c()
    site, base = slooh
    site.files.send_digest = True  # the file host publishes MD5s (RFC 3230 Digest header)
    roll = site.photo_roll()
    once, twice = roll[0]["path"], roll[1]["path"]
    site.files.corrupt[once] = 1  # damaged once: the refetch is good
    site.files.corrupt[twice] = 2  # damaged every time
    cfg = slooh_config(tmp_path, base, 'formats = ["png"]', backend=backend)
    await scheduled_run(cfg)
    items = {r["key"]: r for r in rows(cfg.db_path, "SELECT key, status, error_code, last_error FROM items")}
    good, bad = items[f"{roll[0]['imageId']}:png"], items[f"{roll[1]['imageId']}:png"]
    assert good["status"] == "processed" and site.files.requests[once] == 2
    assert (bad["status"], bad["error_code"]) == ("failed", "checksum")
    assert "checksum" in bad["last_error"] and site.files.requests[twice] == 2
    files = library_files(cfg.library.root)
    assert len(files) == 39 and not any(twice.rsplit("/", 1)[1] in f for f in files)  # nothing partial
    assert {r["status"] for k, r in items.items() if k != bad["key"]} == {"processed"}


async def test_an_api_backfill_task_mirrors_the_whole_account(slooh, tmp_path, aiohttp_client):
    from daemon.api.app import build_app
    from daemon.config.api import ApiSettings
    from tests.integration.test_api import health_of
    from tests.integration.test_tasks import daemon_like, wait_stage

    site, base = slooh
    cfg = slooh_config(tmp_path, base, 'formats = ["fits"]')
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        resp = await client.post("/api/tasks", json={"kind": "backfill", "source": "slooh"})  # no range
        assert resp.status == 202, await resp.text()
        task = await wait_stage(client, (await resp.json())["id"])
        assert (task["total"], task["done"], task["failed"]) == (40, 40, 0)
        bad = await client.post("/api/tasks", json={"kind": "backfill", "source": "slooh", "since": 5})
        assert bad.status == 400 and "must be strings" in (await bad.json())["error"]
    assert len(library_files(cfg.library.root)) == 40 and site.calls["getMyPictures"] == 0


async def test_an_empty_account_is_one_login_and_no_mark(tmp_path):
    from tests.conftest import serve_app
    from tests.fakes.slooh_server import SloohSite

    site = SloohSite(missions=0, username=USER, password=PASSWORD)
    async with serve_app(site.app()) as base:
        cfg = slooh_config(tmp_path, base.rstrip("/"))
        counts = await scheduled_run(cfg)
    assert (counts.total, site.logins) == (0, 1)
    assert (site.calls["getMyPictures"], site.calls["getMissionImages"]) == (1, 1)
    assert rows(cfg.db_path, "SELECT * FROM source_state") == []
    [run] = rows(cfg.db_path, "SELECT status FROM runs")
    assert run["status"] == "ok"


async def test_a_resumed_missions_walk_does_not_ask_again_for_stored_fits_lists(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base, 'formats = ["fits"]')
    site.refuse_after_calls = 6  # missions page 1 and its 5 FITS lists, then the API is gone
    with pytest.raises(SloohSessionError):
        await scheduled_run(cfg)
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert set(state) == {"missions_listed"} and len(state["missions_listed"]) == 5
    assert len(rows(cfg.db_path, "SELECT key FROM items")) == 10

    site.always_expire, site.refuse_after_calls = False, None
    fits_calls = site.calls["getMissionFITS"]
    counts = await scheduled_run(cfg)
    assert site.calls["getMissionFITS"] - fits_calls == 15  # the other 15 missions only
    assert (counts.total, counts.new) == (30, 30)
    assert set(site.files.requests.values()) == {1} and len(site.files.requests) == 40
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert state["missions_listed"] == [] and len(state["missions_mark"]) == 5


async def test_a_picture_deleted_mid_walk_keeps_the_mark_so_nothing_is_stepped_over(slooh, tmp_path):
    site, base = slooh
    cfg = slooh_config(tmp_path, base, 'formats = ["png"]')
    roll = [p["imageId"] for p in site.photo_roll()]

    def delete_newest(endpoint: str, n: int) -> None:
        if endpoint == "getMyPictures" and n == 2:  # after page 2 the owner deletes the newest picture
            site.missions[0].pictures.pop(0)

    site.after_call = delete_newest
    await scheduled_run(cfg)
    keys = {r["key"] for r in rows(cfg.db_path, "SELECT key FROM items")}
    assert f"{roll[10]}:png" not in keys and len(keys) == 39  # position 11 moved to 10: stepped over
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert state == {"pictures_walk": None}  # so the mark did not move, and no resume trusts this walk

    site.after_call = None
    await scheduled_run(cfg)
    keys = {r["key"] for r in rows(cfg.db_path, "SELECT key FROM items")}
    assert f"{roll[10]}:png" in keys and len(keys) == 40  # the next run found it
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert set(state) == {"pictures_mark", "pictures_walk"} and state["pictures_walk"] is None



@pytest.mark.parametrize(("between_runs", "picture_calls"), [
    ("nothing", 4),  # page 1, the landing (verified), then the 2 pages never walked
    ("2 new missions", 4),  # the new pictures at the top shift everything: the jump follows
    ("3 deletions", 9),  # the landing misses the saved last item: back, then page by page
])
async def test_a_resumed_photo_roll_walk_skips_what_was_stored_and_verifies_it(
        slooh, tmp_path, between_runs, picture_calls):
    site, base = slooh
    cfg = slooh_config(tmp_path, base, 'formats = ["png"]')
    site.refuse_after_calls = 6  # the API goes away after 6 photo-roll pages (30 pictures)
    with pytest.raises(SloohSessionError):
        await scheduled_run(cfg)
    assert len(rows(cfg.db_path, "SELECT key FROM items")) == 30
    site.always_expire, site.refuse_after_calls = False, None
    if between_runs == "2 new missions":
        site.add_mission()
        site.add_mission()
    elif between_runs == "3 deletions":
        for mission in site.missions[1:4]:
            mission.pictures.pop()
    calls = site.calls["getMyPictures"]
    await scheduled_run(cfg)
    assert site.calls["getMyPictures"] - calls == picture_calls
    keys = {r["key"] for r in rows(cfg.db_path, "SELECT key FROM items")}
    assert {f"{p['imageId']}:png" for p in site.photo_roll()} <= keys  # nothing stepped over
    assert set(site.files.requests.values()) == {1}  # every file fetched once over both runs
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert state["pictures_walk"] is None and len(state["pictures_mark"]) == 5


async def test_an_ingest_task_saves_the_walk_marks_like_a_scheduled_run(slooh, tmp_path, aiohttp_client):
    """An ``ingest`` task is the scheduled discovery run now: it stores page by page and saves
    the source's marks, so the next run reads only what is new (issue 12: it used to drain
    the whole walk into memory and never save a mark)."""
    from daemon.api.app import build_app
    from daemon.config.api import ApiSettings
    from tests.integration.test_api import health_of
    from tests.integration.test_tasks import daemon_like, wait_stage

    site, base = slooh
    cfg = slooh_config(tmp_path, base)
    async with daemon_like(cfg) as (res, tasks):
        client = await aiohttp_client(build_app(health_of(res), ApiSettings(), tasks=tasks))
        resp = await client.post("/api/tasks", json={"kind": "ingest", "source": "slooh"})
        assert resp.status == 202, await resp.text()
        task = await wait_stage(client, (await resp.json())["id"])
        assert (task["total"], task["done"], task["failed"]) == (80, 80, 0)
    state = {r["name"]: json.loads(r["value"]) for r in rows(cfg.db_path, "SELECT * FROM source_state")}
    assert len(state.get("pictures_mark", [])) == len(state.get("missions_mark", [])) == 5
    calls = dict(site.calls)
    site.add_mission()
    counts = await scheduled_run(cfg)
    assert (counts.total, counts.new) == (4, 4)
    assert site.calls["getMyPictures"] - calls["getMyPictures"] == 1  # stopped at the task's mark
