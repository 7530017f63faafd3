"""Fixtures of the geo tests: an imitation Earth Search with real-pixel COG scenes, and a
runner of geo tasks on a real store, HTTP client, GDAL and onnxruntime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.codes import TaskKind, TaskStage
from daemon.config.settings import HttpSettings
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.geo.runner import GeoContext, GeoTaskRunner
from daemon.http import HttpClient
from daemon.store import SqliteStore, Store
from tests.conftest import serve_app
from tests.fakes.s2_scenes import SceneSpec, item_dict, make_scene
from tests.fakes.stac_server import StacSite

# three scenes of the same 6 km square near Beijing (UTM 50N), as in June 2024
JUNE = [
    SceneSpec("S2B_T50SLK_20240601T030519_L2A", datetime(2024, 6, 1, 3, 5, 19, tzinfo=UTC), 4.5,
              cloud_box=(0, 0, 60, 60)),
    SceneSpec("S2A_T50SLK_20240530T031021_L2A", datetime(2024, 5, 30, 3, 10, 21, tzinfo=UTC), 12.0),
    SceneSpec("S2A_T50SLK_20240520T031021_L2A", datetime(2024, 5, 20, 3, 10, 21, tzinfo=UTC), 40.0),
]


@dataclass
class GeoWorld:
    """A STAC site with its URL, the library, the store and a runner factory."""

    site: StacSite
    url: str
    library: Path
    store: Store
    http: HttpClient
    pool: ThreadPoolExecutor
    scenes: dict[str, SceneSpec] = field(default_factory=dict)
    models: dict[str, GeoModelSettings] = field(default_factory=dict)
    settings: GeoSettings = field(default_factory=GeoSettings)

    def add(self, spec: SceneSpec) -> SceneSpec:
        made = make_scene(self.site.cog_dir, spec)
        self.site.items.append(item_dict(made, self.url + "cogs"))
        self.scenes[spec.id] = made
        return made

    def runner(self, owner: str = "test:1:geo", **kw: Any) -> GeoTaskRunner:
        settings = self.settings.model_copy(update={"stac_url": self.url})
        return GeoTaskRunner(self.store, self.http, lambda: GeoContext(settings, self.models, self.library),
                             self.pool, owner, **kw)

    async def run_task(self, body: dict[str, Any], runner: GeoTaskRunner | None = None) -> dict[str, Any]:
        """Create a task of ``body`` and advance it to its end; returns the task."""
        import asyncio

        task_id = await self.store.create_task(TaskKind.GEO_MODEL, body, stage=TaskStage.DATA_PROCESSING)
        await (runner or self.runner()).advance(task_id, asyncio.Event())
        task = await self.store.get_task(task_id)
        assert task is not None
        return task


@pytest.fixture
async def geo(tmp_path: Path) -> AsyncIterator[GeoWorld]:
    site = StacSite(tmp_path / "cogs")
    async with serve_app(site.app()) as url, SqliteStore.open(tmp_path / "h.db") as store, \
            HttpClient(HttpSettings(backoff_initial_s=0.01, backoff_max_s=0.05)) as http:
        with ThreadPoolExecutor(2) as pool:
            yield GeoWorld(site, url, tmp_path / "library", store, http, pool)


def bbox_inside(spec: SceneSpec, col0_px: int, row0_px: int, size_px: int) -> tuple[float, float, float, float]:
    """A WGS84 bbox whose UTM bounds are the square of ``size_px`` 10 m pixels at (row0, col0)
    of the scene, shrunk by half a pixel (so the chip grid lands exactly on it)."""
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    left = spec.left + col0_px * 10 + 5
    top = spec.top - row0_px * 10 - 5
    right, bottom = left + size_px * 10 - 10, top - size_px * 10 + 10
    w, s, e, n = transform_bounds(CRS.from_epsg(spec.epsg), CRS.from_epsg(4326), left, bottom, right, top)
    return (w, s, e, n)


Builder = Callable[..., dict[str, Any]]
