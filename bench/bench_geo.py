#!/usr/bin/env python3
"""Benchmark: geo chips per second — harvestd's data_processing stage against a plain
rasterio loop on the same Cloud-Optimized GeoTIFFs, side by side in one run.

Scenes: spyndex's real Sentinel-2 sample tiled into 1200 × 1200-pixel 10 m scenes (B02, B03,
B04, B08 and a 20 m SCL) written as COGs, three dates. Chips: 256 × 256 × 4 bands, a 4 × 4
grid per scene and date (48 chips), SCL cloud-masked and written as GeoTIFFs. harvestd: a
geo task (STAC search on the imitation, scene choice, reads in threads — ``[geo] chip_reads``
= 2 — GeoTIFF write, SHA-256, one store row per chip). Plain loop: for each chip, open the
four bands and SCL with rasterio, read the window, mask, write the GeoTIFF — one after the
other. Case 1: local files; case 2: the same files over HTTP (range requests) from a server
on 127.0.0.1 answering every request after 50 ms.

Usage: python bench/bench_geo.py [--dates 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.warp import transform_bounds
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.config.settings import HttpSettings  # noqa: E402
from daemon.geo import stac  # noqa: E402
from daemon.geo.chips import GDAL_ENV, write_geotiff  # noqa: E402
from daemon.geo.config import GeoModelSettings, GeoSettings  # noqa: E402
from daemon.geo.runner import GeoContext, GeoTaskRunner  # noqa: E402
from daemon.http import HttpClient  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from daemon.store import SqliteStore  # noqa: E402
from tests.conftest import serve_app  # noqa: E402
from tests.fakes import s2_scenes  # noqa: E402
from tests.fakes.s2_scenes import SceneSpec, item_dict, write_cog  # noqa: E402
from tests.fakes.stac_server import StacSite  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]
SIDE = 1200  # pixels per scene side (the sample 4 × 4, mirrored)
CHIP = 256
GRID = 4  # chips per side read from each scene


def big_scene(folder: Path, spec: SceneSpec) -> SceneSpec:
    a = s2_scenes.scene_reflectance()  # 600²
    top = np.concatenate([a, a[:, :, ::-1]], axis=2)
    refl = np.concatenate([top, top[:, ::-1, :]], axis=1)
    dn = (np.round(refl * 10000) + 1000).astype(np.uint16)
    for i, band in enumerate(BANDS):
        spec.files[band] = folder / spec.id / f"{band}.tif"
        write_cog(spec.files[band], dn[i], spec.epsg, spec.transform, 0.0001, -0.1)
    scl = np.full((SIDE // 2, SIDE // 2), 4, dtype=np.uint8)
    scl[:50, :50] = 9
    spec.files["SCL"] = folder / spec.id / "SCL.tif"
    write_cog(spec.files["SCL"], scl, spec.epsg, Affine(20, 0, spec.left, 0, -20, spec.top), None, None)
    return spec


def item(spec: SceneSpec, base: str) -> dict[str, object]:
    raw = item_dict(spec, base)
    side = SIDE * 10.0
    w, s, e, n = transform_bounds(CRS.from_epsg(spec.epsg), CRS.from_epsg(4326), spec.left, spec.top - side,
                                  spec.left + side, spec.top, densify_pts=21)
    raw["bbox"] = [w, s, e, n]
    raw["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return raw


def plain_loop(scenes: list[SceneSpec], href: callable, out: Path, left: float, top: float) -> int:
    """Open, read the window, mask with SCL, write: one chip after the other."""
    n = 0
    with rasterio.Env(**GDAL_ENV):
        for spec in scenes:
            for r in range(GRID):
                for c in range(GRID):
                    col0 = int((left - spec.left) / 10) + c * CHIP
                    row0 = int((spec.top - top) / 10) + r * CHIP
                    layers = []
                    for band in BANDS:
                        with rasterio.open(href(spec, band)) as src:
                            layers.append(src.read(1, window=Window(col0, row0, CHIP, CHIP)))
                    with rasterio.open(href(spec, "SCL")) as src:
                        scl = src.read(1, window=Window(col0 // 2, row0 // 2, CHIP // 2, CHIP // 2))
                    masked = np.isin(np.repeat(np.repeat(scl, 2, 0), 2, 1), [1, 3, 8, 9, 10])
                    stack = np.stack(layers)
                    stack[:, masked] = 0
                    t = Affine(10, 0, spec.left + col0 * 10, 0, -10, spec.top - row0 * 10)
                    write_geotiff(out / f"{spec.id}_{r}_{c}.tif", stack, spec.epsg, t, 0, BANDS)
                    n += 1
    return n


async def harvestd(site: StacSite, url: str, hrefs_base: str | None, scenes: list[SceneSpec], bbox: list[float],
                   work: Path, dates: int) -> tuple[int, float]:
    site.items = [item(s, hrefs_base or "") for s in scenes]
    if hrefs_base is None:  # local files: hrefs are paths (the daemon only takes http(s) URLs)
        stac.HREF_SCHEMES = ("https://", "http://", "/")
        for raw, spec in zip(site.items, scenes, strict=True):
            for asset in raw["assets"].values():
                name = Path(asset["href"]).name
                asset["href"] = str(spec.files.get(name[:-4], spec.files["SCL"]))
    models = {"four": GeoModelSettings(path=work / "none.onnx", bands=BANDS, mean=[0] * 4, std=[1] * 4,
                                       input_size=CHIP)}
    newest = max(s.when for s in scenes).date()
    body = {"bboxes": [bbox], "model_type": "four", "date": newest.isoformat(), "chip_size": CHIP,
            "cloud_coverage": 50, "num_steps": dates, "data_source": "S2", "temporal_step": 10,
            "temporal_tolerance": 2}
    settings = GeoSettings(stac_url=url, chip_reads=2)
    async with SqliteStore.open(work / "h.db") as store, HttpClient(HttpSettings()) as http:
        with ThreadPoolExecutor(2) as pool:
            context = GeoContext(settings, models, work / "lib")
            runner = GeoTaskRunner(store, http, lambda: context, pool, "bench")
            task_id = await store.create_task("geo_model", body, stage="data_processing")
            stop = asyncio.Event()
            count = [0]

            def recorded(_t: int, key: str) -> None:
                count[0] += 1
                if count[0] >= GRID * GRID * dates:
                    stop.set()

            runner.on_recorded = recorded
            t0 = time.perf_counter()
            await runner.advance(task_id, stop)
            seconds = time.perf_counter() - t0
    return count[0], seconds


async def main_async(dates: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site = StacSite(work / "cogs")
        base_when = datetime(2024, 6, 1, 3, tzinfo=UTC)
        scenes = [big_scene(site.cog_dir, SceneSpec(f"S2A_T50SLK_{(base_when - timedelta(days=10 * k)):%Y%m%d}"
                                                    f"T030519_L2A", base_when - timedelta(days=10 * k), 5.0))
                  for k in range(dates)]
        spec = scenes[0]
        # the chip grid: 4 × 4 chips of 2.56 km inside the scene
        left, top = spec.left + 800, spec.top - 800
        right, bottom = left + GRID * CHIP * 10 - 10, top - GRID * CHIP * 10 + 10
        # shrunk by 100 m a side: the box's projected (rotated) outline still fits 4 × 4 chips
        w, s, e, n = transform_bounds(CRS.from_epsg(32650), CRS.from_epsg(4326), left + 100, bottom + 100,
                                      right - 100, top - 100)
        # the grid harvestd makes for this bbox (centred on it): the plain loop reads the same windows
        from daemon.geo.grid import chip_grid

        grid = chip_grid((w, s, e, n), CHIP, 10.0)
        assert (grid.rows, grid.cols) == (GRID, GRID), (grid.rows, grid.cols)
        async with serve_app(site.app()) as url:
            for case, latency in (("local files", None), ("HTTP, 50 ms latency", 0.05)):
                site.latency_s = latency or 0.0
                runs = []
                for contender in ("harvestd", "plain", "harvestd", "plain"):
                    out = work / f"out-{case[:4]}-{contender}-{len(runs)}"
                    out.mkdir()
                    if contender == "plain":
                        def href(sp: SceneSpec, band: str, _lat: float | None = latency) -> str:
                            remote = f"/vsicurl/{url}cogs/{sp.id}/{band}.tif"
                            return str(sp.files[band]) if _lat is None else remote

                        t0 = time.perf_counter()
                        n_chips = await asyncio.to_thread(plain_loop, scenes, href, out, grid.left, grid.top)
                        runs.append((contender, n_chips, time.perf_counter() - t0))
                    else:
                        n_chips, seconds = await harvestd(site, url, None if latency is None else url + "cogs",
                                                          [replace(sc) for sc in scenes], [w, s, e, n], out,
                                                          dates)
                        runs.append((contender, n_chips, seconds))
                best = {c: max(n / t for cc, n, t in runs if cc == c) for c in ("harvestd", "plain")}
                for contender, n_chips, seconds in runs:
                    print(f"{case:<20} {contender:<9} {n_chips:>3} chips in {seconds:6.2f} s = "
                          f"{n_chips / seconds:6.1f} chips/s")
                print(f"{case:<20} best harvestd {best['harvestd']:.1f} chips/s, plain {best['plain']:.1f} "
                      f"chips/s: ratio {best['harvestd'] / best['plain']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dates", type=int, default=3)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main_async(args.dates))


if __name__ == "__main__":
    main()
