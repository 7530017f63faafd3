"""Fixtures of the source tests: the Slooh imitation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import serve_app
from tests.fakes.slooh_server import SloohSite
from tests.sources.slooh_harness import PASSWORD, USER


@pytest.fixture
async def slooh() -> AsyncIterator[tuple[SloohSite, str]]:
    """A running imitation Slooh (20 missions × 2 PNG + 2 FITS): (site, base URL, no trailing slash)."""
    site = SloohSite(missions=20, username=USER, password=PASSWORD)
    async with serve_app(site.app()) as base:
        yield site, base.rstrip("/")
