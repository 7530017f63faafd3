"""The API query builder and response handling against the imitation PhotosDatabaseAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import aiohttp
import pytest

from daemon.sources.nasa_iss.api import (
    API_PATH,
    ApiError,
    Condition,
    api_params,
    one_per_photo,
    parse_response,
    photo_conditions,
)
from tests.conftest import serve_app
from tests.fakes.nasa_eol_server import EolSite, reference_photos


@pytest.fixture
async def eol() -> AsyncIterator[tuple[EolSite, str]]:
    site = EolSite(reference_photos())
    async with serve_app(site.app()) as base:
        yield site, base.rstrip("/") + API_PATH


async def call(url: str, conditions: list[Condition], key: str = "test-key") -> object:
    async with aiohttp.ClientSession() as session, session.get(url, params=api_params(conditions, key)) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None)


async def test_mission_and_dates_give_one_photo_per_size_then_one_after_dedupe(eol):
    _site, url = eol
    body = await call(url, [Condition("frames", "mission", "eq", "iss006")])  # values are case-insensitive
    rows = parse_response(body)
    assert len(rows) == 2  # one row per stored size
    [photo] = one_per_photo(rows, "large")
    assert photo.nasa_id == "ISS006-E-44608" and photo.directory == "ESC/large/ISS006"
    assert (photo.lat, photo.lon, photo.sun_elevation_deg) == (9.5, -80.0, -55)


async def test_bbox_night_and_size_filters_are_anded(eol):
    _site, url = eol
    conditions = photo_conditions(bbox=(8.0, -86.0, 11.3, -77.0), time_of_day="night",
                                  since=date(2000, 1, 1), until=date(2025, 12, 31))
    photos = one_per_photo(parse_response(await call(url, conditions)))
    assert sorted(p.nasa_id for p in photos) == ["ISS006-E-44608", "ISS026-E-16456"]
    assert all("/large/" in f"/{p.directory}/" for p in photos)
    day = photo_conditions(bbox=(50.0, -1.0, 52.0, 1.0), time_of_day="day")
    [london] = one_per_photo(parse_response(await call(url, day)))
    assert london.lon == 0.5  # served as ".5", the site's leading-zero-less decimal


async def test_no_records_and_bad_key_and_bad_operator(eol):
    site, url = eol
    assert parse_response(await call(url, [Condition("frames", "mission", "eq", "ISS999")])) == []
    assert site.requests["api"] == 1
    with pytest.raises(ApiError, match="Invalid API key"):
        parse_response(await call(url, [Condition("frames", "mission", "eq", "ISS006")], key="wrong"))
    async with aiohttp.ClientSession() as session, session.get(
        url, params={"query": "frames|lat|between|1", "return": "frames|lat", "key": "test-key"}
    ) as resp:
        body = await resp.json(content_type=None)
    with pytest.raises(ApiError, match="unknown operator"):
        parse_response(body)


async def test_tables_are_inner_joined(eol):
    _site, url = eol
    only_images = [Condition("images", "filename", "like", "*ART002*")]
    async with aiohttp.ClientSession() as session, session.get(
        url, params=api_params(only_images, "test-key", [("images", "directory"), ("images", "filename")])
    ) as resp:
        rows = parse_response(await resp.json(content_type=None))
    assert [one_per_photo(rows)[0].nasa_id] == ["ART002-E-168"]
    # the same photo disappears once frames (which it lacks) is referenced
    joined = [*only_images, Condition("frames", "cldp", "ge", "0")]
    assert parse_response(await call(url, joined)) == []
