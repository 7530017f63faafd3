"""Shared fixtures: the sky-camera imitation and config files for it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import settings as hypothesis_settings

from daemon.config.load import load_config
from daemon.config.root import Config
from tests.fakes.file_server import FileSite
from tests.fakes.skycam_server import SkycamSite, url_template
from tests.fakes.slooh_server import SloohSite

# CI runs a fixed sequence of examples: a failure there is a regression, never luck
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (a free port); yields its base URL (ends with ``/``)."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()


@pytest.fixture
async def skycam() -> AsyncIterator[tuple[SkycamSite, str]]:
    """A running imitation sky-camera server: (site state, base URL on 127.0.0.1)."""
    site = SkycamSite()
    async with serve_app(site.app()) as base:
        yield site, base


@pytest.fixture
async def filesite() -> AsyncIterator[tuple[FileSite, str]]:
    """A running imitation static file host: (site state, base URL on 127.0.0.1)."""
    site = FileSite()
    async with serve_app(site.app()) as base:
        yield site, base


def fast_config_head(backend: str = "builtin", downloads: str = "") -> str:
    """The top of a test config: data and library under the config's folder, quick polling,
    quick retries, the API on a free port (``downloads``: more ``[downloads]`` lines). A
    source table follows."""
    return f"""
data_dir = "data"
[api]
listen = "127.0.0.1:0"
[library]
root = "library"
[downloads]
backend = "{backend}"
poll_interval_s = 0.1
{downloads}
[http]
backoff_initial_s = 0.01
backoff_max_s = 0.05
"""


def skycam_config_text(base_url: str, backend: str = "builtin", **source_overrides: object) -> str:
    """A config.toml for the imitation: fast retries, data under the config's folder.

    ``backend`` is the download backend (the aria2c backend has its own tests).
    """
    source = {
        "kind": '"skycam"',
        "url_template": f'"{url_template(base_url)}"',
        "minutes": "[2, 12, 22, 32, 42, 52]",
        "timezone": '"America/Argentina/Cordoba"',
        "schedule": '"*/10 * * * *"',
        "latitude": "-31.42",
        "longitude": "-64.19",
        "processors": '["octas"]',
    }
    source.update({k: str(v) for k, v in source_overrides.items()})
    lines = "\n".join(f"{k} = {v}" for k, v in source.items())
    return f"""
data_dir = "data"
[daemon]
shutdown_timeout_s = 20
[api]
listen = "127.0.0.1:0"
[library]
root = "library"
[http]
max_attempts = 4
backoff_initial_s = 0.01
backoff_max_s = 0.05
[downloads]
backend = "{backend}"
retry_backoff_s = 0.2
concurrency = 4
poll_interval_s = 0.2
[worker]
threads = 2
poll_interval_s = 0.2
[processors.octas]
threshold = 0.6
[sources.sky]
{lines}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., tuple[Path, Config]]:
    """Write a config for the imitation at ``base_url`` into tmp_path; returns (path, Config)."""

    def write(base_url: str, backend: str = "builtin", **overrides: object) -> tuple[Path, Config]:
        path = tmp_path / "config.toml"
        path.write_text(skycam_config_text(base_url, backend, **overrides), encoding="utf-8")
        return path, load_config(path)

    return write


@pytest.fixture
async def slooh() -> AsyncIterator[tuple[SloohSite, str]]:
    """A running imitation Slooh (20 missions × 2 PNG + 2 FITS): (site, base URL, no trailing slash)."""
    from tests.integration.sources.slooh_harness import PASSWORD, USER  # it imports this module

    site = SloohSite(missions=20, username=USER, password=PASSWORD)
    async with serve_app(site.app()) as base:
        yield site, base.rstrip("/")


LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer (the folder it is in): ``-m unit`` runs the unit layer."""
    for item in items:
        parts = item.path.parts
        layer = next((part for part in parts[parts.index("tests") + 1:] if part in LAYERS), None)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
