"""Source skycam: URL template, year folder rule, slots, DST, look-back window."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.library.paths import place
from daemon.sources.skycam.config import SkycamSourceConfig
from daemon.sources.skycam.slots import parse_bound, render_url, slots_between
from daemon.sources.skycam.source import SkycamSource

TEMPLATE = "http://201.251.63.225/meteorologia/cielo/image/{year_dir}{t:%Y}-{t:%m%d%H%M}.jpg"


def source(**kw: object) -> SkycamSource:
    cfg = SkycamSourceConfig(kind="skycam", url_template=TEMPLATE, minutes=[2, 12, 22, 32, 42, 52],
                             timezone="America/Argentina/Cordoba", latitude=-31.42, longitude=-64.19,
                             **kw)
    return SkycamSource("sky", cfg)


def test_year_dir_only_for_past_years():
    assert render_url(TEMPLATE, datetime(2025, 1, 1, 0, 2), current_year=2025).endswith(
        "/image/2025-01010002.jpg")
    assert render_url(TEMPLATE, datetime(2024, 1, 1, 0, 2), current_year=2025).endswith(
        "/image/2024/2024-01010002.jpg")


async def test_backfill_item_keys_urls_and_utc():
    src = source()
    items = [i async for i in src.backfill("2024-01-01T00:00", "2024-01-01T01:59", None)]
    assert [i.key for i in items][:3] == ["2024-01-01T00:02", "2024-01-01T00:12", "2024-01-01T00:22"]
    assert len(items) == 12
    first = place(items[0], "sky")  # the pipeline renders the path from the layout and fields
    assert first.url == "http://201.251.63.225/meteorologia/cielo/image/2024/2024-01010002.jpg"
    assert first.captured_at == datetime(2024, 1, 1, 3, 2, tzinfo=UTC)  # Córdoba is UTC−3
    assert first.path == "sky/2024/01/01/2024-01010002.jpg"
    assert first.metadata["latitude"] == -31.42 and first.processors == ("octas",)


async def test_month_backfill_has_the_seed_total():
    src = source()
    items = [i async for i in src.backfill("2025-01-01T00:00", "2025-01-31T23:59", None)]
    assert len(items) == 31 * 24 * 6 == 4464
    assert len({i.key for i in items}) == len(items)


async def test_reversed_and_malformed_ranges():
    src = source()
    with pytest.raises(ValueError, match="is before"):
        [i async for i in src.backfill("2025-01-02T00:00", "2025-01-01T00:00", None)]
    with pytest.raises(ValueError, match="bad timestamp"):
        [i async for i in src.backfill("2025-13-01T00:00", "2025-01-01T00:00", None)]


def test_dst_gap_is_skipped_and_repeated_hour_yields_once():
    zone = ZoneInfo("Europe/Berlin")
    spring = list(slots_between(parse_bound("2025-03-30T01:00", zone),
                                parse_bound("2025-03-30T03:59", zone), [2, 32]))
    assert [s.strftime("%H:%M") for s in spring] == ["01:02", "01:32", "03:02", "03:32"]
    autumn = list(slots_between(parse_bound("2025-10-26T01:00", zone),
                                parse_bound("2025-10-26T03:59", zone), [2]))
    assert [s.strftime("%H:%M") for s in autumn] == ["01:02", "02:02", "03:02"]


async def test_lookback_window_of_a_scheduled_run():
    src = source(lookback_s=3600)
    now = datetime(2025, 5, 1, 15, 5, tzinfo=UTC)  # 12:05 in Córdoba
    keys = [i.key async for i in src.discover(now, None)]
    assert keys == ["2025-05-01T11:12", "2025-05-01T11:22", "2025-05-01T11:32", "2025-05-01T11:42",
                    "2025-05-01T11:52", "2025-05-01T12:02"]


async def test_hostile_remote_name_is_sanitised():
    cfg_template = "http://cam/x/..%2F..%2Fetc%2F{t:%H%M}.jpg"
    src = SkycamSource("sky", SkycamSourceConfig(kind="skycam", url_template=cfg_template, minutes=[2],
                                                 latitude=0, longitude=0))
    (item,) = [place(i, "sky") async for i in src.backfill("2025-01-01T00:00", "2025-01-01T00:59", None)]
    assert item.path == "sky/2025/01/01/_.._etc_0002.jpg"  # no leading dots: never hidden
    assert ".." not in item.path.split("/")
