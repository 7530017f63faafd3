"""Geo tasks with an S3 library (issue 15): chips and predictions go to the bucket as they
are written (recorded only once there), and the prediction stage on a node without the
chips fetches them back from the bucket (real moto S3 server, real GDAL and onnxruntime)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil

import pytest

from daemon.geo.runner import GeoContext, GeoTaskRunner
from daemon.library.files import LibraryFiles, WorkingCopy
from daemon.library.objects import ObjectLibrary
from tests.integration.geo.conftest import JUNE, GeoWorld, bbox_inside
from tests.integration.geo.test_geo_tasks import _body, _interrupted
from tests.s3 import moto_bucket

pytestmark = pytest.mark.integration


async def test_chips_and_predictions_live_in_the_bucket(geo: GeoWorld) -> None:
    for spec in JUNE:
        geo.add(spec)
    with moto_bucket("geo") as bucket:
        files = LibraryFiles(lambda: geo.library, ObjectLibrary(f"s3://{bucket.name}/lib", bucket.endpoint_url),
                             WorkingCopy(geo.library, 1 << 30))
        settings = geo.settings.model_copy(update={"stac_url": geo.url})

        def runner(owner: str = "test:1:geo") -> GeoTaskRunner:
            context = GeoContext(settings, geo.models, geo.library, files)
            return GeoTaskRunner(geo.store, geo.http, lambda: context, geo.pool, owner)

        geo.runner = runner  # type: ignore[method-assign]  # _interrupted uses geo.runner
        spec = geo.scenes[JUNE[0].id]
        task_id = await geo.store.create_task("geo_model", _body([bbox_inside(spec, 200, 200, 60)]),
                                              stage="data_processing")
        # every chip written (2 steps), then stopped: another node will predict
        await _interrupted(geo, task_id, 2, "2024")
        chips = {k: v for k, v in (await geo.store.geo_items(task_id)).items() if v.status == "downloaded"}
        assert len(chips) == 2
        objects = bucket.objects("lib/")
        for item in chips.values():
            local = geo.library / str(item.path)
            assert objects[f"lib/{item.path}"]["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        await asyncio.to_thread(shutil.rmtree, geo.library)  # a node that never saw them
        final = await runner("test:2:geo").advance(task_id, asyncio.Event())
        assert final == "completed"
        items = await geo.store.geo_items(task_id)
        [prediction] = [v for k, v in items.items() if "/ndvi/" in k]
        assert prediction.status == "processed" and prediction.path
        objects = bucket.objects("lib/")
        raster = geo.library / prediction.path
        assert objects[f"lib/{prediction.path}"]["sha256"] == hashlib.sha256(raster.read_bytes()).hexdigest()
        assert f"lib/{prediction.path[:-4]}.png" in objects  # the preview beside it
        assert all((geo.library / str(c.path)).exists() for c in chips.values())  # fetched back
