"""Issue 17: ``harvestd check-source NAME`` (the seed's ``--test``) for every source kind:
sign in where there is a login, one listing call, one line, exit 0 / 1 / 2."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import fast_config_head, serve_app, skycam_config_text
from tests.fakes.nasa_eol_server import EolSite, reference_photos
from tests.integration.sources.slooh_harness import PASSWORD, USER, slooh_config
from tests.procs import cli_runner

KEY = "k3y-f0r-check-source"
OK = re.compile(r"^check-source (\S+) \((\w+)\): ok in \d+\.\d\d s: (.+)$")
FAILED = re.compile(r"^check-source (\S+) \((\w+)\): failed after \d+\.\d\d s: (.+)$")


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


async def test_skycam_fetches_the_newest_image_and_says_which(skycam, tmp_path):
    site, base = skycam
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text(base), encoding="utf-8")
    cli = cli_runner(config, env_with())
    code, out, err = await cli("check-source", "sky")
    assert code == 0, out + err
    m = OK.match(out.strip())
    assert m and m.groups()[:2] == ("sky", "skycam"), out
    assert re.fullmatch(r"newest image \d{4}-\d\d-\d\dT\d\d:\d\d \(camera time\), [\d,]+ bytes", m.group(3))
    assert sum(site.requests.values()) == 1  # one image, nothing stored
    assert not (tmp_path / "data" / "harvest.db").exists()
    # the newest slots missing (gaps): it looks further back and says so
    now = datetime.now(UTC).astimezone(ZoneInfo(site.timezone))
    for minutes_back in range(0, 25):
        site.gaps.add(f"{now - timedelta(minutes=minutes_back):%Y-%m-%dT%H:%M}")
    code, out, _ = await cli("check-source", "sky")
    assert code == 0 and re.search(r"\(\d newer slot\(s\) missing\)$", out.strip()), out


async def test_skycam_down_is_one_line_and_exit_1(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text("http://127.0.0.1:9/"), encoding="utf-8")
    code, out, err = await cli_runner(config, env_with())("check-source", "sky", "--timeout-s", "20")
    assert code == 1, out + err
    m = FAILED.match(out.strip())
    assert m and m.group(1) == "sky" and "Traceback" not in err, out + err


async def test_nasa_iss_one_api_call_then_a_refused_key(tmp_path):
    today = datetime.now(UTC).date()
    photos = [dataclasses.replace(p, frames={**p.frames, "pdate": f"{today - timedelta(days=2):%Y%m%d}"})
              for p in reference_photos() if p.frames]
    site = EolSite(photos, api_keys={KEY})
    async with serve_app(site.app()) as base:
        config = tmp_path / "config.toml"
        config.write_text(fast_config_head() + f"""
[sources.iss]
kind = "nasa_iss"
api_key = "${{NASA_EOL_API_KEY}}"
base_url = "{base.rstrip('/')}"
requests_per_minute = 6000
""", encoding="utf-8")
        code, out, err = await cli_runner(config, env_with(NASA_EOL_API_KEY=KEY))("check-source", "iss")
        assert code == 0, out + err
        m = OK.match(out.strip())
        assert m and m.groups()[:2] == ("iss", "nasa_iss"), out
        assert m.group(3).startswith("3 items listed, newest "), out
        # a listing call only: no photo page, no file (the site counts pages under "page")
        assert site.requests["page"] == 0 and sum(site.files.requests.values()) == 0
        assert len(site.queries) == 1
        code, out, err = await cli_runner(config, env_with(NASA_EOL_API_KEY="wrong-key"))("check-source", "iss")
        assert code == 1 and FAILED.match(out.strip()), out + err
        assert "wrong-key" not in out + err and "Traceback" not in err


async def test_slooh_signs_in_and_reads_one_page_then_a_refused_login(slooh, tmp_path):
    site, base = slooh
    slooh_config(tmp_path, base)  # page_size 5
    config = tmp_path / "config.toml"
    code, out, err = await cli_runner(config, env_with(SLOOH_USERNAME=USER, SLOOH_PASSWORD=PASSWORD))(
        "check-source", "slooh")
    assert code == 0, out + err
    m = OK.match(out.strip())
    assert m and m.groups()[:2] == ("slooh", "slooh") and m.group(3).startswith("5 items listed"), out
    assert site.calls["login"] == 1 and sum(site.calls.values()) == 3, site.calls  # token, login, a page
    code, out, err = await cli_runner(config, env_with(SLOOH_USERNAME=USER, SLOOH_PASSWORD="nope-nope"))(
        "check-source", "slooh")
    assert code == 1 and FAILED.match(out.strip()), out + err
    assert "nope-nope" not in out + err and "Traceback" not in err


async def test_unknown_source_is_exit_2(skycam, tmp_path):
    _site, base = skycam
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text(base), encoding="utf-8")
    code, _out, err = await cli_runner(config, env_with())("check-source", "nosuch")
    assert code == 2 and "unknown source 'nosuch' (known: sky)" in err
