"""The shared HTTP client against local servers: retries, Retry-After, final 4xx, limits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from daemon.config.settings import HostLimit, HttpSettings
from daemon.errors import ConfigError
from daemon.http import HttpClient, HttpError, NotFound, parse_retry_after
from tests.conftest import serve_app

FAST = {"backoff_initial_s": 0.01, "backoff_max_s": 0.02}


class Script:
    """Answers each path with a scripted sequence of (status, headers) then 200."""

    def __init__(self) -> None:
        self.plan: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.hits: dict[str, list[float]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits.setdefault(path, []).append(time.monotonic())
        steps = self.plan.get(path, [])
        if steps:
            status, headers = steps.pop(0)
            return web.Response(status=status, headers=headers, text="no")
        return web.Response(body=b"payload:" + path.encode())


@pytest.fixture
async def server():
    script = Script()
    app = web.Application()
    app.router.add_get("/{tail:.*}", script.handle)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield script, str(srv.make_url("/")).rstrip("/")
    await srv.close()


async def test_retries_5xx_then_succeeds(server):
    script, base = server
    script.plan["/a"] = [(503, {}), (502, {}), (500, {})]
    async with HttpClient(HttpSettings(max_attempts=4, **FAST)) as http:
        assert await http.get_bytes(base + "/a") == b"payload:/a"
    assert len(script.hits["/a"]) == 4


async def test_404_is_final_and_other_4xx_are_not_retried(server):
    script, base = server
    script.plan["/gone"] = [(404, {})]
    script.plan["/forbidden"] = [(403, {})]
    async with HttpClient(HttpSettings(max_attempts=4, **FAST)) as http:
        with pytest.raises(NotFound):
            await http.get_bytes(base + "/gone")
        with pytest.raises(HttpError) as err:
            await http.get_bytes(base + "/forbidden")
    assert err.value.status == 403 and not isinstance(err.value, NotFound)
    assert len(script.hits["/gone"]) == 1 and len(script.hits["/forbidden"]) == 1


async def test_retries_exhausted_reports_status(server):
    script, base = server
    script.plan["/busy"] = [(503, {})] * 5
    async with HttpClient(HttpSettings(max_attempts=3, **FAST)) as http:
        with pytest.raises(HttpError, match="HTTP 503 after 3 attempts"):
            await http.get_bytes(base + "/busy")
    assert len(script.hits["/busy"]) == 3


async def test_retry_after_seconds_holds_back_the_whole_host(server):
    script, base = server
    script.plan["/limited"] = [(429, {"Retry-After": "1"})]
    async with HttpClient(HttpSettings(max_attempts=3, **FAST)) as http:
        first = asyncio.create_task(http.get_bytes(base + "/limited"))
        await asyncio.sleep(0.2)  # the 429 has been answered; the host is now held back
        other = await http.get_bytes(base + "/other")
        await first
    assert other == b"payload:/other"
    gap = script.hits["/limited"][1] - script.hits["/limited"][0]
    assert gap >= 0.95  # waited the server's second, not the 10 ms backoff
    assert script.hits["/other"][0] - script.hits["/limited"][0] >= 0.95


async def test_retry_after_http_date(server):
    script, base = server
    when = datetime.now(UTC) + timedelta(seconds=2)
    script.plan["/date"] = [(503, {"Retry-After": format_datetime(when, usegmt=True)})]
    async with HttpClient(HttpSettings(max_attempts=2, **FAST)) as http:
        await http.get_bytes(base + "/date")
    hits = script.hits["/date"]
    assert hits[1] - hits[0] >= 0.9  # the date has whole-second resolution


def test_parse_retry_after():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_connection_refused_is_retried_then_network_error():
    async with HttpClient(HttpSettings(max_attempts=2, **FAST)) as http:
        with pytest.raises(HttpError, match="network error after retries") as err:
            await http.get_bytes("http://127.0.0.1:9/x")
    assert err.value.status is None


async def test_per_host_rate_limit(server):
    _script, base = server
    host = base.removeprefix("http://")
    settings = HttpSettings(hosts={host: HostLimit(requests_per_minute=600)}, **FAST)  # 10/s
    async with HttpClient(settings) as http:
        started = time.monotonic()
        await asyncio.gather(*(http.get_bytes(f"{base}/r{i}") for i in range(21)))
        elapsed = time.monotonic() - started
    # evenly spaced, no burst: 21 requests at 10/s need 2 s (one every 0.1 s after the first)
    assert 1.9 <= elapsed < 4.0


async def test_a_source_suggested_limit_applies_unless_the_config_names_the_host(server):
    _script, base = server
    host = base.removeprefix("http://")
    async with HttpClient(HttpSettings(**FAST)) as http:
        http.suggest_host_limit(base, HostLimit(requests_per_minute=1200))  # 20/s
        started = time.monotonic()
        await asyncio.gather(*(http.get_bytes(f"{base}/s{i}") for i in range(11)))
        assert time.monotonic() - started >= 0.45
    configured = HttpSettings(hosts={host: HostLimit(requests_per_minute=60000)}, **FAST)
    async with HttpClient(configured) as http:
        http.suggest_host_limit(base, HostLimit(requests_per_minute=60))  # ignored: configured
        started = time.monotonic()
        await asyncio.gather(*(http.get_bytes(f"{base}/t{i}") for i in range(11)))
        assert time.monotonic() - started < 2.0


async def test_download_streams_to_part_with_hash(server, tmp_path):
    _, base = server
    async with HttpClient(HttpSettings(**FAST)) as http:
        got = await http.download(base + "/file", tmp_path / "f.part")
    data = (tmp_path / "f.part").read_bytes()
    import hashlib

    assert data == b"payload:/file" and got.size_bytes == len(data)
    assert got.sha256 == hashlib.sha256(data).hexdigest()


async def test_stalled_body_times_out_and_is_retried(tmp_path):
    calls = []

    async def drip(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        resp = web.StreamResponse(headers={"Content-Length": "100"})
        await resp.prepare(request)
        await resp.write(b"x" * 10)
        await asyncio.sleep(5)  # the camera's uplink stalls mid-file
        return resp

    app = web.Application()
    app.router.add_get("/slow.jpg", drip)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        settings = HttpSettings(max_attempts=2, read_timeout_s=0.2, **FAST)
        async with HttpClient(settings) as http:
            with pytest.raises(HttpError, match="network error after retries") as err:
                await http.download(str(srv.make_url("/slow.jpg")), tmp_path / "slow.part")
    finally:
        await srv.close()
    assert err.value.status is None and len(calls) == 2


async def test_a_retried_download_holds_only_the_last_attempts_bytes(tmp_path):
    """A body cut short is retried; the part file then holds exactly the second answer (each
    attempt truncates it with its first write), never the first attempt's bytes before it."""
    calls = []
    body = bytes(range(256)) * 8192  # 2 MiB: written in batches, not one trip

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        resp = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await resp.prepare(request)
        if len(calls) == 1:
            await resp.write(b"\xff" * (1536 << 10))  # 1.5 MiB of the wrong bytes, then the connection drops
            request.transport.close()
            return resp
        await resp.write(body)
        return resp

    app = web.Application()
    app.router.add_get("/big.bin", flaky)
    async with serve_app(app) as base, HttpClient(HttpSettings(max_attempts=3, **FAST)) as http:
        got = await http.download(f"{base}big.bin", tmp_path / "big.part")
    import hashlib

    assert len(calls) == 2
    assert (tmp_path / "big.part").read_bytes() == body
    assert got.size_bytes == len(body) and got.sha256 == hashlib.sha256(body).hexdigest()


async def test_body_larger_than_the_cap_is_refused(server):
    _, base = server
    async with HttpClient(HttpSettings(**FAST)) as http:
        with pytest.raises(HttpError, match="larger than 4 bytes"):
            await http.get_bytes(base + "/big", max_bytes=4)


async def test_a_host_named_without_its_port_in_the_config_applies(server):
    """Issue 13: ``[http.hosts."127.0.0.1"]`` did not apply to ``http://127.0.0.1:PORT/``, so a
    source's suggested pace (NASA: 60/min) won over what the user configured."""
    _script, base = server
    configured = HttpSettings(hosts={"127.0.0.1": HostLimit(requests_per_minute=60000)}, **FAST)
    async with HttpClient(configured) as http:
        http.suggest_host_limit(base, HostLimit(requests_per_minute=60))  # ignored: configured
        assert http.host_limit(base) == HostLimit(requests_per_minute=60000)
        started = time.monotonic()
        await asyncio.gather(*(http.get_bytes(f"{base}/p{i}") for i in range(11)))
        assert time.monotonic() - started < 2.0


def test_host_keys_match_case_insensitively_with_or_without_a_port():
    """Issue 13 item 5: ``[http.hosts."HOST"]`` matches the URL's host with or without a port,
    in any case; ``"HOST:PORT"`` applies to that port only."""
    from daemon.config.load import parse_config

    cfg = parse_config('[http.hosts."EOL.JSC.nasa.gov"]\nrequests_per_minute = 30\n'
                       '[http.hosts."cam.example:8080"]\nrequests_per_minute = 5\n', Path("/tmp/c.toml"))
    http = HttpClient(cfg.http)
    assert http.host_limit("https://eol.jsc.NASA.gov/SearchPhotos/x") == HostLimit(requests_per_minute=30)
    assert http.host_limit("https://eol.jsc.nasa.gov:8443/x") == HostLimit(requests_per_minute=30)
    assert http.host_limit("http://CAM.example:8080/a.jpg") == HostLimit(requests_per_minute=5)
    assert http.host_limit("http://cam.example:8081/a.jpg") is None  # another port
    assert http.host_limit("http://cam.example/a.jpg") is None
    with pytest.raises(ConfigError, match="named twice"):
        parse_config('[http.hosts."a.example"]\nrequests_per_minute = 1\n'
                     '[http.hosts."A.example"]\nrequests_per_minute = 2\n', Path("/tmp/c.toml"))
