"""STAC search against the imitation Earth Search: paging by POST and by GET next links,
the cloud query, the server's refusals, a 503 retried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from daemon.geo.stac import search, search_body
from daemon.http import HttpError
from tests.fakes.s2_scenes import SceneSpec, item_dict
from tests.integration.geo.conftest import GeoWorld

pytestmark = pytest.mark.integration


def _fill(geo: GeoWorld, n: int) -> None:
    start = datetime(2024, 5, 1, 3, tzinfo=UTC)
    for k in range(n):
        when = start + timedelta(days=k)
        spec = SceneSpec(f"S2A_T50SLK_{when:%Y%m%d}T030519_L2A", when, float(k % 30))
        geo.site.items.append(item_dict(spec, geo.url + "cogs"))


async def test_post_paging_follows_next_bodies_and_stops_at_number_matched(geo: GeoWorld) -> None:
    _fill(geo, 25)
    body = search_body(["sentinel-2-c1-l2a"], [116.0, 39.0, 117.0, 40.0], date(2024, 5, 1), date(2024, 5, 31),
                       20.0, limit=10)
    items = await search(geo.http, geo.url, body)
    # May 1-25, cloud k % 30 ≤ 20 → 21 items, least cloudy first
    assert len(items) == 21 and len({i["id"] for i in items}) == 21
    clouds = [i["properties"]["eo:cloud_cover"] for i in items]
    assert clouds == sorted(clouds) and max(clouds) == 20.0
    assert len(geo.site.searches) == 3  # 10 + 10 + 1; no empty 4th page: 21 = numberMatched
    assert geo.site.searches[1]["next"] and geo.site.searches[1]["query"] == body["query"]


async def test_get_next_links_without_counts_are_followed_to_the_empty_page(geo: GeoWorld) -> None:
    geo.site.cmr_style = True
    _fill(geo, 12)
    body = search_body(["sentinel-2-c1-l2a"], [116.0, 39.0, 117.0, 40.0], date(2024, 5, 1), date(2024, 5, 31),
                       100.0, limit=5)
    items = await search(geo.http, geo.url, body)
    assert len(items) == 12
    assert len(geo.site.searches) == 4  # 5 + 5 + 2 + the empty page (no count to stop on)


async def test_a_refusal_is_an_error_with_the_status_and_a_503_is_retried(geo: GeoWorld) -> None:
    _fill(geo, 3)
    bad = {**search_body(["x"], [0, 0, 1, 1], date(2024, 5, 1), date(2024, 5, 2), 10.0, 10),
           "datetime": "2024-05-01/2024-05-02"}
    # date-only ends: stac-server answers 400
    with pytest.raises(HttpError) as err:
        await search(geo.http, geo.url, bad)
    assert err.value.status == 400
    geo.site.unavailable = 1
    body = search_body(["sentinel-2-c1-l2a"], [116.0, 39.0, 117.0, 40.0], date(2024, 5, 1), date(2024, 5, 3),
                       100.0, 10)
    assert len(await search(geo.http, geo.url, body)) == 3
