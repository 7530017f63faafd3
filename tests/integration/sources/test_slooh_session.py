"""The Slooh session and list calls against the imitation: login, re-login, expiry, paging edges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import structlog

from daemon.config.settings import HttpSettings
from daemon.http import HttpClient
from daemon.sources.slooh.api import SloohApi, SloohLoginError, SloohSessionError
from daemon.sources.slooh.paging import walk_pages
from tests.conftest import serve_app
from tests.fakes.slooh_server import SloohSite
from tests.integration.sources.slooh_harness import PASSWORD, USER


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(HttpSettings(backoff_initial_s=0.01, backoff_max_s=0.02)) as client:
        yield client


def api_for(http: HttpClient, base: str, password: str = PASSWORD) -> SloohApi:
    return SloohApi(http, base, USER, password, "ee26fb6d-3351-11eb-83b9-0655cc43ca95")


async def roll(api: SloohApi, page_size: int) -> list[int]:
    async def fetch(first: int, count: int):
        page = await api.pictures(first, count)
        return page.items, page.total

    return [p["imageId"] async for items in walk_pages(fetch, page_size) for p in items]


async def test_login_then_lists_with_the_user_triple(slooh, http):
    site, base = slooh
    api = api_for(http, base)
    await api.login()
    page = await api.pictures(1, 5)
    assert len(page.items) == 5 and page.total == 40  # totalCount "40" (a string) parsed
    missions = await api.missions(1, 5)
    assert missions.total == 20 and missions.items[0]["missionImageCount"] == "2"
    frames = await api.mission_fits(missions.items[0]["scheduledMissionId"])
    assert [g for g, _ in frames] == ["Main Imager", "Main Imager"]
    assert all(e["imageURL"].endswith("_cal.fit") for _, e in frames)
    assert site.logins == 1 and site.calls["generateSessionToken"] == 1


async def test_wrong_password_is_a_clear_error_without_the_password(slooh, http):
    _site, base = slooh
    with structlog.testing.capture_logs() as logs, pytest.raises(SloohLoginError) as err:
        await api_for(http, base, password="not-the-password").login()
    assert "Invalid username or password" in str(err.value)
    assert "not-the-password" not in repr(logs) + str(err.value)


@pytest.mark.parametrize("mode", ["401", "silent"])
async def test_an_expired_session_logs_in_again_once_and_the_walk_loses_nothing(slooh, http, mode):
    site, base = slooh
    site.expiry_mode = mode
    site.expire_after_calls = 3  # every session dies after 3 calls: 8 pages need 3 sessions
    api = api_for(http, base)
    ids = await roll(api, 5)
    assert ids == [p["imageId"] for p in site.photo_roll()]  # all 40, in order, none twice
    assert api.logins == site.logins == 3
    assert site.calls["getMyPictures"] == 8 + 2  # each expired call was repeated once


@pytest.mark.parametrize("mode", ["401", "silent"])
async def test_expiry_right_after_a_fresh_login_fails_the_walk_clearly(slooh, http, mode):
    site, base = slooh
    site.expiry_mode = mode
    site.expire_after_calls = 1
    api = api_for(http, base)
    await api.pictures(1, 5)
    site.always_expire = True  # every later call, even after a new login, is refused
    with pytest.raises(SloohSessionError, match="expired again right after a fresh login"):
        await api.pictures(6, 5)
    assert api.logins == 2


async def test_an_empty_account_is_empty_not_expired(http):
    site = SloohSite(missions=0, username=USER, password=PASSWORD)
    async with serve_app(site.app()) as base:
        api = api_for(http, base.rstrip("/"))
        assert await roll(api, 5) == []
        assert site.logins == 1  # an empty first page right after the login needs no second one


@pytest.mark.parametrize(("pictures", "page_size"), [(21, 5), (20, 5), (19, 18), (1, 5), (6, 5), (5, 5)])
async def test_paging_never_drops_the_last_picture(http, pictures, page_size):
    site = SloohSite(missions=pictures, pictures_per_mission=1, fits_per_mission=0,
                     username=USER, password=PASSWORD)
    async with serve_app(site.app()) as base:
        ids = await roll(api_for(http, base.rstrip("/")), page_size)
    assert len(ids) == len(set(ids)) == pictures  # totals of k·page+1 included
    assert site.calls["getMyPictures"] == -(-pictures // page_size)  # no extra empty page asked for


async def test_the_server_refuses_password_instead_of_passwd(slooh, http):
    """The imitation's own check (§11): our client sends passwd, a client sending password fails."""
    _site, base = slooh
    token = (await http.post_json(f"{base}/api/app/generateSessionToken", None)).decode()
    import json

    guest = json.loads(token)["sloohSessionToken"]
    answer = json.loads(await http.post_json(f"{base}/api/users/login",
                                             {"username": USER, "password": PASSWORD},
                                             headers={"Cookie": f"_sloohsstkn={guest}"}))
    assert answer["loginError"] == "true" and answer["apiError"] is True


async def test_an_empty_first_page_of_an_idle_session_is_taken_for_a_silent_expiry(slooh, http, monkeypatch):
    import daemon.sources.slooh.api as api_module

    site, base = slooh
    site.expiry_mode, site.expire_after_calls = "silent", 1
    api = api_for(http, base)
    assert len((await api.pictures(1, 5)).items) == 5
    monkeypatch.setattr(api_module, "ACTIVE_SESSION_S", 0.0)  # as if the session had been idle
    page = await api.missions(1, 5)  # silently empty → logged in again → the real first page
    assert len(page.items) == 5 and page.total == 20 and api.logins == site.logins == 2


async def test_a_page_slower_than_the_read_timeout_is_a_clear_network_error(slooh):
    from daemon.http import HttpError

    site, base = slooh
    settings = HttpSettings(read_timeout_s=0.1, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
    async with HttpClient(settings) as client:
        api = api_for(client, base)
        assert len((await api.pictures(1, 5)).items) == 5
        site.api_delay_s = 0.5
        with pytest.raises(HttpError, match="network error after retries"):
            await api.pictures(6, 5)
        site.api_delay_s = 0.05  # slow but within the timeout: fine
        assert len((await api.pictures(6, 5)).items) == 5
    assert site.calls["getMyPictures"] == 4


async def test_a_503_is_retried_and_a_maintenance_page_is_a_clear_error(slooh, http):
    from daemon.sources.slooh.api import SloohError

    site, base = slooh
    api = api_for(http, base)
    site.api_faults = ["503"]
    assert len((await api.pictures(1, 5)).items) == 5  # retried by the shared client
    site.api_faults = ["html"]
    with pytest.raises(SloohError, match=r"images/getMyPictures: answer is not JSON \(\d+ bytes\)"):
        await api.pictures(6, 5)
    assert len((await api.pictures(6, 5)).items) == 5
    assert site.calls["getMyPictures"] == 4
