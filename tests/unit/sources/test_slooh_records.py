"""Slooh list records → items: keys, URLs without the cache-buster, names, times, FITS fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from daemon.library.paths import place
from daemon.sources.slooh.records import (
    clean_url,
    filter_code,
    fits_item,
    name_time,
    picture_item,
    url_filename,
)

LAYOUT = "{object}/{telescope}/{format}/{telescope}_{filename}"
# the reference's own example picture (§4.5), imageDownloadFilename absent on the second
CRAB = {"imageId": 17375714, "customerImageId": 14963069, "scheduledMissionId": 4131805,
        "imageTitle": "Crab Nebula (M1)", "displayDate": "Feb. 9, 2026", "displayTime": "03:25:48 UTC",
        "imageTimestamp": 1770607548,
        "imageDownloadURL": "https://polaris2.slooh.com/chile/1/highmag/2026/02/09/0325_m1/"
                            "m1_20260209_032548_0_h4k2q9_m.png?rand=1770718975.0622",
        "imageDownloadFilename": "m1_20260209_032548_0_h4k2q9_m.png",
        "telescopeName": "Chile One", "instrumentName": "", "overlayData": {"owner": "Ada L."}}
PLEIADES = {"imageId": "17375702", "scheduledMissionId": 4131790, "imageTitle": "Messier 45 ",
            "displayDate": "Feb. 9, 2026", "displayTime": "01:02 UTC",
            "imageDownloadURL": "https://polaris2.slooh.com/aus/1/highmag/2026/02/09/0100_messier45/"
                                "messier45_20260209_010241_0_zt81cd_lrgb.png?rand=1770718975.0939",
            "telescopeName": "Australia One", "instrumentName": "", "overlayData": {"owner": "Not available"}}
MISSION = {"scheduledMissionId": 4130637, "imageTitle": "Horsehead Nebula (Barnard 33)",
           "displayDate": "Dec. 23, 2025", "displayTime": "13:25:00 UTC", "fitsIsAvailable": True,
           "telescopeName": "Australia One", "instrumentName": ""}


def test_picture_items_follow_the_seed_layout_and_tracker_keys():
    item = place(picture_item("slooh", LAYOUT, CRAB), "slooh")  # the pipeline renders the path
    assert item is not None and item.key == "17375714:png"
    assert item.url == ("https://polaris2.slooh.com/chile/1/highmag/2026/02/09/0325_m1/"
                        "m1_20260209_032548_0_h4k2q9_m.png")  # no ?rand=
    assert item.path == "M1/Chile One/Pictures/Chile One_m1_20260209_032548_0_h4k2q9_m.png"
    assert item.captured_at == datetime(2026, 2, 9, 3, 25, 48, tzinfo=UTC)  # imageTimestamp
    assert item.metadata["owner"] == "Ada L." and item.metadata["filter"] == "m"
    assert item.metadata["customer_image_id"] == 14963069 and item.metadata["mission_id"] == 4131805

    # string id, no timestamp, no download name
    second = place(picture_item("slooh", LAYOUT, PLEIADES), "slooh")
    assert second is not None and second.key == "17375702:png"
    assert second.path.startswith("M45/Australia One/Pictures/Australia One_messier45_20260209_")
    assert second.captured_at == datetime(2026, 2, 9, 1, 2, tzinfo=UTC)  # displayDate + displayTime
    assert second.metadata["owner"] is None  # the "Not available" sentinel
    assert second.metadata["filter"] == "lrgb"


def test_records_without_id_or_url_give_no_item():
    assert picture_item("slooh", LAYOUT, {**CRAB, "imageId": None}) is None
    assert picture_item("slooh", LAYOUT, {**CRAB, "imageDownloadURL": "", "imageURL": ""}) is None
    assert fits_item("slooh", LAYOUT, MISSION, "g", {"imageId": 1, "imageURL": "ftp://x/y.fit"}) is None


def test_fits_items_inherit_the_mission_and_take_the_time_from_the_name():
    entry = {"imageId": 17068459, "imageTitle": "barnard33_20251223_132742_1_p0c7nd_r_cal.fit",
             "imageURL": "https://polaris.slooh.com/aus/1/highmag/2025/12/23/1325_barnard33/"
                         "barnard33_20251223_132742_1_p0c7nd_r_cal.fit"}
    item = place(fits_item("slooh", "{object}/{telescope}/{instrument}/{format}/{date}/{filename}", MISSION,
                           "High-Magnification Camera", entry), "slooh")
    assert item is not None and item.key == "17068459:fits"
    assert item.path == ("Barnard33/Australia One/High-Magnification Camera/FITS/2025-12-23/"
                         "barnard33_20251223_132742_1_p0c7nd_r_cal.fit")
    assert item.captured_at == datetime(2025, 12, 23, 13, 27, 42, tzinfo=UTC)
    assert item.metadata["filter"] == "r" and item.metadata["mission_id"] == 4130637
    no_url_name = place(fits_item("slooh", "{filename}", MISSION, "", {"imageId": 5, "imageURL": "https://h/"}),
                        "slooh")
    assert no_url_name is not None and no_url_name.path == "5.fit"
    assert no_url_name.captured_at == datetime(2025, 12, 23, 13, 25, tzinfo=UTC)  # the mission's time


def test_url_helpers():
    assert clean_url("https://h/a%20b.png?rand=1.5&x=1") == "https://h/a%20b.png?x=1"
    assert url_filename("https://h/dir/a%20b.png?rand=1") == "a b.png"
    assert name_time("m42_20260121_011700_0_q8w3ze_l.png") == datetime(2026, 1, 21, 1, 17, tzinfo=UTC)
    assert name_time("teide5-2026-01-02T101010UTC-AbC123.png") is None
    assert filter_code("x_20260121_011700_0_q8w3ze_lrgb.png") == "lrgb"


def test_hostile_names_from_the_api_cannot_leave_the_library():
    evil = {**CRAB, "imageTitle": "../../../etc (NGC 7000)", "telescopeName": "../..",
            "imageDownloadURL": "https://h/x/..%2F..%2Fpasswd.png"}
    item = place(picture_item("slooh", LAYOUT, evil), "slooh")
    assert item is not None
    # every value is one segment: separators become "_", leading/trailing dots are stripped
    assert item.path == "NGC7000/_/Pictures/___.._passwd.png"


async def test_the_source_suggests_a_pace_for_the_api_and_the_file_hosts():
    from daemon.config.load import parse_config
    from daemon.config.settings import HostLimit
    from daemon.http import HttpClient
    from daemon.sources.registry import build_source

    text = ('[sources.s]\nkind = "slooh"\nusername = "u"\npassword = "p"\n'
            '[http.hosts."polaris.slooh.com"]\nrequests_per_minute = 10\n')
    cfg = parse_config(text, Path("/tmp/c.toml"), env={})
    source = build_source("s", cfg.sources["s"])
    async with HttpClient(cfg.http) as http:
        source.suggest_limits(http)
        api = HostLimit(requests_per_minute=30, max_concurrent=1)
        assert http.host_limit("https://app.slooh.com/api/x") == api
        assert http.host_limit("https://polaris2.slooh.com/a.png") == HostLimit(requests_per_minute=60)
        assert http.host_limit("https://polaris.slooh.com/a.fit") == HostLimit(requests_per_minute=10)  # config
        item = picture_item("s", LAYOUT, {**CRAB, "imageDownloadURL": "https://cdn.example/a.png"})
        assert item is not None and http.host_limit(item.url) is None
        source._found(http, item)  # a file host seen in a listing gets the download pace too
        assert http.host_limit(item.url) == HostLimit(requests_per_minute=60)
