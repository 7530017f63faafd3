"""Both engines give the same answers: one scenario touching every query of the store runs on
SQLite and on PostgreSQL, and everything it reads back is compared (ids, times and owners
aside, which differ by nature)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.store import Downloaded, NewItem, ResultOutput, RunCounts, Store, Transfer, open_store
from tests.pg import fresh_schema

T0 = datetime(2025, 3, 1, tzinfo=UTC)
VOLATILE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # now-stamps: compared as present


def _item(key: str, i: int, processors: tuple[str, ...] = ("octas",), **meta: Any) -> NewItem:
    return NewItem(key=key, url=f"http://x/{key}", captured_at=T0 + timedelta(minutes=i), path=f"s/{key}.jpg",
                   processors=processors, metadata=meta)


def _stable(value: Any) -> Any:
    """``value`` with ids, lease owners, Unix times and now-stamps replaced by markers."""
    if isinstance(value, dict):
        return {k: ("<id>" if k in ("id", "item_id", "run_id") or (k.endswith("_at") and isinstance(v, float))
                    else "<owner>" if k in ("owner", "lease_owner") and v else
                    "<t>" if k in ("lease_until", "next_attempt_at") and v else _stable(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, str) and VOLATILE.match(value) and not value.startswith("2025"):
        return "<now>"
    return value


async def scenario(store: Store) -> dict[str, Any]:
    """Every query once (most twice), in an order a daemon would call them."""
    seen: dict[str, Any] = {}
    iss = {"kind": "iss_photo", "nasa_id": "ISS070-E-1", "mission": "ISS070", "date": "2025-03-01",
           "time": "10:00", "lat": 12.5, "lon": -3.25, "nadir_lat": 12.0, "nadir_lon": -3.0,
           "camera": "NIKON", "cloud_cover_pct": 25, "geographic_name": "SAHEL", "geotiff_available": True}
    seen["added"] = sorted(await store.add_items("sky", [_item(f"k{i}", i) for i in range(6)]))
    seen["added_iss"] = sorted(await store.add_items("iss", [
        _item("ISS070-E-1", 0, (), **iss), _item("ISS070-E-1/camera", 0, ()),
        _item("m1", 1, (), object="M31", telescope="T1", format="fits")]))
    run = await store.start_run("sky", "schedule")
    await store.assign_run("sky", ["k0", "k1"], run)
    claimed = await store.claim_items("D", 4, 60, source="sky")
    seen["claimed"] = [i.key for i in claimed]
    seen["in_flight"] = sorted((await store.items_in_flight([i.id for i in claimed])).values())
    await store.record_transfers([Transfer(claimed[0].id, "g1", "active", 5, 10, 2, 1)])
    seen["transfers"] = await store.transfers()
    done = await store.mark_downloaded_many("D", [Downloaded(claimed[0].id, "s/k0.jpg", 100, "a" * 64),
                                                  Downloaded(claimed[1].id, "s/k1.jpg", 200, "b" * 64)])
    seen["downloaded"] = len(done)
    seen["failed_one"] = await store.mark_item_failed(claimed[2].id, "D", "not_found", "404 Not Found")
    seen["retry"] = await store.retry_item(claimed[3].id, "D", "network", "timeout", 3600)
    seen["renewed"] = await store.renew_leases("D", 60)
    await store.finish_run(run, RunCounts(6, 6, 0, 1), "ok")
    iss_items = await store.claim_items("D", 10, 60, source="iss")
    await store.mark_downloaded_many("D", [Downloaded(i.id, f"iss/{i.key}", 1, "c" * 64) for i in iss_items])
    results = await store.claim_results("W", 10, 60, 3)
    seen["results_claimed"] = [(r.item.key, r.processor, r.attempts) for r in results]
    seen["completed"] = await store.complete_results("W", [
        (results[0].id, ResultOutput({"octas": 3, "condition": "day"}, "m", "1", octas=3, cloud_fraction=0.375),
         12.5)])
    seen["failed_result"] = await store.fail_result(results[1].id, "W", "corrupt image")
    seen["states"] = await store.item_states("sky", [f"k{i}" for i in range(6)])
    seen["statuses"] = sorted((await store.item_statuses([i.id for i in claimed])).values())
    seen["counts"] = await store.status_counts()
    seen["busy"] = await store.busy_counts()
    seen["errors"] = await store.last_errors()
    seen["runs"] = await store.last_runs()
    seen["result_rows"] = await store.result_rows("sky")
    seen["item_stats"] = await store.item_stats()
    seen["failure_codes"] = await store.failure_codes()
    seen["health"] = await store.source_health()
    seen["run_stats"] = await store.run_stats()
    seen["paths"] = sorted(await store.item_paths())
    seen["failed_items"] = await store.failed_items("sky", ["not_found"])
    await store.save_source_state("sky", {"cursor": {"at": "2025-03-01"}, "n": 3})
    await store.save_source_state("sky", {"n": 4})
    seen["state"] = await store.source_state("sky")
    seen["gallery"] = await store.gallery("sky", None, "2025-01-01", None, 10, 0)
    seen["gallery_done"] = await store.gallery("sky", "processed", None, None, 10, 0)
    seen["companions"] = await store.companions("iss", "ISS070-E-1")
    seen["newest"] = await store.newest_capture("sky")
    seen["sky"] = await store.sky_series("sky", "2025-01-01", "2026-01-01")
    seen["iss_points"] = await store.iss_points("iss", "ISS070", None, None, None, 30.0, 10)
    seen["iss_points_cloudy"] = await store.iss_points("iss", None, None, None, None, 10.0, 10)
    seen["telescope"] = await store.telescope_counts("iss")
    seen["of_object"] = await store.items_of_object("iss", "M31", 5)
    seen["failed_list"] = await store.failed_list("sky", None, 10)
    seen["last_run_per_source"] = await store.last_run_per_source()
    item = await store.item_with_results(claimed[0].id)
    seen["item"] = item
    seen["paused"] = [await store.set_paused("source:sky", True, "me"),
                      await store.set_paused("source:sky", True, "me")]
    seen["controls"] = await store.controls()
    seen["resumed"] = await store.set_paused("source:sky", False, "me")
    seen["requeued_results"] = len(await store.requeue_results("octas", "sky", ["k0"]))
    seen["result_states"] = sorted((await store.result_states([r.id for r in results])).values())
    seen["requeue_failed"] = await store.requeue_failed("sky", ["k2"], ["not_found"])
    seen["retry_failed"] = await store.retry_failed(source="sky")
    seen["requeue_items"] = await store.requeue_items("sky", ["k2"])
    upload = await store.add_upload("uploads", "u1", "up/u1.jpg", 10, "d" * 64, "2025-03-01T00:00:00Z",
                                    {"gps": {"latitude_deg": 1.5}}, ["vegetation"])
    seen["upload"] = await store.item_with_results(upload)
    no_proc = await store.add_upload("uploads", "u2", "up/u2.jpg", 10, "e" * 64, "2025-03-01T00:00:00Z", {}, [])
    seen["upload_plain"] = await store.item_with_results(no_proc)
    task = await store.create_task("backfill", {"source": "sky"}, lease_owner="T", lease_s=60)
    seen["lease_other"] = await store.lease_task(task, "U", 60)
    seen["lease_dead"] = await store.lease_task(task, "U", 60, is_dead=lambda owner: owner == "T")
    await store.update_task(task, stage="acquiring", follow=[1, 2], total=2)
    seen["task"] = await store.get_task(task, with_follow=True)
    seen["tasks"] = await store.list_tasks(10, 0)
    seen["open_tasks"] = await store.open_tasks(["backfill"])
    await store.release_task(task, "U")
    await store.record_geo_item(7, "chip-1", status="downloaded", path="geo/7/c.tif", size_bytes=5,
                                metadata={"step": 0})
    await store.record_geo_item(7, "chip-1", status="failed", error_code="corrupt", error="bad block")
    seen["geo"] = {k: vars(v) for k, v in (await store.geo_items(7)).items()}
    seen["owners"] = sorted(await store.lease_owners())
    seen["released"] = [await store.release_items("D"), await store.release_results("W")]
    seen["claim_by_id"] = [i.key for i in await store.claim_items_by_id("E", [claimed[2].id], 60, "sky")]
    seen["closed_orphans"] = await store.close_orphan_runs(lambda owner: True)
    seen["closed_own"] = await store.close_own_runs()
    await store.ping()
    return _stable(seen)


async def test_sqlite_and_postgresql_answer_alike(tmp_path):
    async with open_store(tmp_path / "h.db") as lite:
        expected = await scenario(lite)
    async with fresh_schema() as url, open_store(tmp_path / "unused.db", url) as pg:
        got = await scenario(pg)
    for key in expected:
        assert got[key] == expected[key], key
    # the scenario itself means something: spot checks of what it read
    assert expected["claimed"] == ["k0", "k1", "k2", "k3"] and expected["downloaded"] == 2
    assert expected["iss_points"][0]["lat"] == 12.5 and expected["iss_points_cloudy"] == []
    assert expected["paused"] == [True, False] and expected["lease_dead"] is True
    assert expected["upload_plain"]["results"] == [] and expected["upload"]["results"][0]["status"] == "pending"
