#!/usr/bin/env python3
"""One geo model task, offline: the imitation Earth Search (``tests/fakes``) with real-pixel
Sentinel-2 scenes on 127.0.0.1, an NDVI task of two temporal steps over one bbox, run by the
same runner the daemon uses. Prints the task as ``GET /api/task/{id}`` shows it and copies the
NDVI preview to ``docs/geo_ndvi_example.png`` (the README's example).

Usage: python scripts/geo_example.py [--out docs/geo_ndvi_example.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.api.tasks import task_view  # noqa: E402
from daemon.config.settings import HttpSettings  # noqa: E402
from daemon.geo.config import GeoSettings  # noqa: E402
from daemon.geo.runner import GeoContext, GeoTaskRunner  # noqa: E402
from daemon.http import HttpClient  # noqa: E402
from daemon.logs import configure_logging  # noqa: E402
from daemon.store import SqliteStore  # noqa: E402
from tests.conftest import serve_app  # noqa: E402
from tests.fakes.s2_scenes import SceneSpec, item_dict, make_scene  # noqa: E402
from tests.fakes.stac_server import StacSite  # noqa: E402
from tests.integration.geo.conftest import bbox_inside  # noqa: E402


async def main_async(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site = StacSite(work / "cogs")
        async with serve_app(site.app()) as url:
            june = datetime(2024, 6, 1, 3, 5, 19, tzinfo=UTC)
            may = datetime(2024, 5, 22, 3, 10, 21, tzinfo=UTC)
            for spec in (SceneSpec("S2B_T50SLK_20240601T030519_L2A", june, 4.5, cloud_box=(150, 140, 175, 185)),
                         SceneSpec("S2A_T50SLK_20240522T031021_L2A", may, 9.0)):
                site.items.append(item_dict(make_scene(site.cog_dir, spec), url + "cogs"))
            body = {"bboxes": [list(bbox_inside(spec, 180, 180, 240))], "model_type": "ndvi",
                    "date": "2024-06-01", "chip_size": 256, "cloud_coverage": 15, "num_steps": 2,
                    "data_source": "S2", "temporal_step": 10, "temporal_tolerance": 3}
            settings = GeoSettings(stac_url=url)
            async with SqliteStore.open(work / "h.db") as store, HttpClient(HttpSettings()) as http:
                with ThreadPoolExecutor(2) as pool:
                    context = GeoContext(settings, {}, work / "library")
                    runner = GeoTaskRunner(store, http, lambda: context, pool, "example")
                    task_id = await store.create_task("geo_model", body, stage="data_processing")
                    await runner.advance(task_id, asyncio.Event())
                task = await store.get_task(task_id)
        assert task is not None
        view = task_view(task)
        print(json.dumps(view, indent=1))
        preview = view["detail"]["bboxes"][0]["predictions"][0]["preview"]
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "library" / preview, out)
        print(f"preview: {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "geo_ndvi_example.png")
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main_async(args.out))


if __name__ == "__main__":
    main()
