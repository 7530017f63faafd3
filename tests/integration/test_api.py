"""The HTTP API: health (200/503 with reasons), queue status, JSON errors, bearer auth, config."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.api.app import build_app
from daemon.api.health import HealthContext
from daemon.config.api import ApiSettings
from daemon.config.load import parse_config
from daemon.errors import ConfigError
from daemon.resources import Resources, open_resources
from daemon.store import NewItem
from tests.integration.downloads.aria2_harness import file_item

TOKEN = "t0ken-0f-sixteen-chars"


def config(tmp_path: Path, extra: str = ""):
    return parse_config(f'data_dir = "data"\n[downloads]\nbackend = "builtin"\n{extra}', tmp_path / "c.toml")


@pytest.fixture
async def resources(tmp_path) -> AsyncIterator[Resources]:
    async with open_resources(config(tmp_path), "test") as res:
        yield res


def health_of(res: Resources, lag_s: float = 0.0) -> HealthContext:
    return HealthContext(res.store, res.downloader, res.worker,
                         lambda: {"ok": True, "jobs": {"sky": "2026-11-22T02:10:00+00:00"}}, lambda: lag_s, 5.0)


async def test_health_is_200_with_every_check(aiohttp_client, resources):
    client = await aiohttp_client(build_app(health_of(resources), ApiSettings()))
    resp = await client.get("/api/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"store", "downloader", "scheduler", "worker", "event_loop", "library",
                                   "sources", "controls", "nodes"}
    assert body["checks"]["controls"] == {"ok": True, "downloads_paused": False, "paused_sources": []}
    assert body["checks"]["scheduler"]["jobs"] == {"sky": "2026-11-22T02:10:00+00:00"}
    assert body["checks"]["library"]["free_bytes"] > 0
    assert body["checks"]["downloader"]["backend"] == "builtin"


async def test_health_is_503_with_the_reasons(aiohttp_client, tmp_path):
    cfg = config(tmp_path, f'[library]\nroot = "{tmp_path / "nas"}"\nrequire_mount = true')
    async with open_resources(cfg, "test") as res:
        client = await aiohttp_client(build_app(health_of(res, lag_s=9.0), ApiSettings()))
        resp = await client.get("/api/health")
        body = await resp.json()
    assert resp.status == 503 and body["status"] == "unhealthy"
    assert body["failing"] == ["event_loop", "library"]
    assert body["checks"]["library"]["paused"] is True and "missing" in body["checks"]["library"]["reason"]


async def test_queue_status_counts_items_per_source_and_status(aiohttp_client, resources):
    await resources.store.add_items("files", [file_item("http://x/", "a"), file_item("http://x/", "b")])
    when = file_item("http://x/", "a").captured_at
    missing = NewItem("c", "http://x/c", when, "c", error=("not_found", "404"))
    await resources.store.add_items("files", [missing])
    client = await aiohttp_client(build_app(health_of(resources), ApiSettings()))
    resp = await client.get("/api/queues/status")
    body = await resp.json()
    assert resp.status == 200
    assert {(r["source"], r["status"], r["n"]) for r in body["items"]} == {("files", "discovered", 2),
                                                                          ("files", "failed", 1)}


async def test_errors_are_json_and_writes_need_the_token(aiohttp_client, resources):
    client = await aiohttp_client(build_app(health_of(resources), ApiSettings(token=TOKEN)))
    resp = await client.get("/api/nothing")
    assert resp.status == 404 and (await resp.json())["error"] == "Not Found"
    resp = await client.post("/api/health")  # a write without the token
    assert resp.status == 401 and "bearer" in (await resp.json())["error"]
    resp = await client.post("/api/health", headers={"Authorization": "Bearer wrong-token-value"})
    assert resp.status == 401
    resp = await client.post("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 405 and (await resp.json())["error"] == "Method Not Allowed"
    assert (await client.get("/api/health")).status == 200  # reads need no token


def test_listening_beyond_loopback_needs_a_token(tmp_path):
    with pytest.raises(ConfigError, match="beyond loopback"):
        config(tmp_path, '[api]\nlisten = "0.0.0.0:8750"')
    with pytest.raises(ConfigError, match=r"api\.token"):
        config(tmp_path, '[api]\nlisten = "0.0.0.0:8750"\ntoken = "short"')
    assert config(tmp_path, f'[api]\nlisten = "0.0.0.0:8750"\ntoken = "{TOKEN}"').api.token == TOKEN
    assert config(tmp_path, '[api]\nlisten = "[::1]:9000"').api.listen == "[::1]:9000"
    with pytest.raises(ConfigError, match="HOST:PORT"):
        config(tmp_path, '[api]\nlisten = "8750"')


async def test_metrics_parse_and_carry_queues_http_and_processor_figures(aiohttp_client, resources, filesite):
    site, base = filesite
    site.add("m.bin", 1000)
    await resources.http.get_bytes(f"{base}files/m.bin")
    await resources.http.get_bytes(f"{base}files/m.bin")
    await resources.store.add_items("files", [file_item(base, "m.bin")])
    client = await aiohttp_client(build_app(health_of(resources, lag_s=0.25), ApiSettings()))
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    host = base.removeprefix("http://").rstrip("/")
    assert samples[("harvestd_http_requests_total", (("host", host), ("status", "200")))] >= 2
    assert samples[("harvestd_items", (("source", "files"), ("status", "discovered")))] == 1
    assert samples[("harvestd_event_loop_lag_seconds", ())] == 0.25
    assert "harvestd_processor_seconds" in families and "harvestd_downloaded_bytes" in families


@pytest.mark.parametrize("room", ["below", "above"])
async def test_health_library_follows_the_configured_min_free_bytes(aiohttp_client, tmp_path, room):
    """Health called the library unhealthy below a hard-coded 1 GiB while downloads went on
    down to ``[library] min_free_bytes``: two thresholds, one not configurable. Now health
    says unhealthy exactly when downloads pause, and reports the configured threshold."""
    free = shutil.disk_usage(tmp_path).free
    threshold = free + (1 << 40) if room == "below" else 1 << 20
    cfg = config(tmp_path, f"[library]\nmin_free_bytes = {threshold}")
    async with open_resources(cfg, "test") as res:
        client = await aiohttp_client(build_app(health_of(res), ApiSettings()))
        body = await (await client.get("/api/health")).json()
    library = body["checks"]["library"]
    if room == "below":
        assert library["ok"] is False and library["paused"] is True and "full" in library["reason"]
    else:
        assert library["ok"] is True and library["min_free_bytes"] == 1 << 20
