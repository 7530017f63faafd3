"""Uploads fill the ``image_gps`` view (through the API, on real SQLite), issue 17."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest

from daemon.config.load import parse_config
from daemon.resources import Resources, open_resources
from tests.fakes.exif_files import capture_entries, dji_xmp, exif_tiff, gps_entries, jpeg_with
from tests.integration.test_uploads import client_for, form
from tests.unit.test_gps import CORDOBA


@pytest.fixture
async def resources(tmp_path) -> AsyncIterator[Resources]:
    """Resources for uploads (no worker: this is about what the upload records)."""
    text = ('data_dir = "data"\n[downloads]\nbackend = "builtin"\n'
            '[processors.vegetation]\nkind = "vegetation"\npreset = "sentinel2"\n')
    cfg = parse_config(text, tmp_path / "c.toml")
    async with open_resources(cfg, "test") as res:
        yield res


async def test_uploads_fill_the_image_gps_view_and_metadata_overrides(aiohttp_client, resources):
    client = await client_for(aiohttp_client, resources)
    cfg = resources.cfg
    tiff = exif_tiff(gps_entries(*CORDOBA, altitude_m=512.35), capture_entries("2025:06:01 10:20:30", "-03:00"))
    dji = jpeg_with(tiff, dji_xmp(45.2, -90.0, -12.3), size=(128, 96))
    ids = []
    for name, data, metadata in [("DJI_0001.JPG", dji, None),
                                 ("DJI_0002.JPG", dji, '{"latitude": -31.5, "altitude_m": 500}'),
                                 ("plain.jpg", jpeg_with(None, size=(128, 96)), None)]:
        resp = await client.post("/api/uploads", data=form(data, name, metadata))
        answer = await resp.json()
        assert resp.status == 202 and answer["status"] == "uploaded", answer
        ids.append(answer["id"])
    db = sqlite3.connect(cfg.db_path)
    db.row_factory = sqlite3.Row
    try:
        rows = {r["item_id"]: dict(r) for r in db.execute("SELECT * FROM image_gps")}
    finally:
        db.close()
    first, second, plain = (rows[i] for i in ids)
    assert first["latitude_deg"] == pytest.approx(-31.42) and first["longitude_deg"] == pytest.approx(-64.19)
    assert first["relative_altitude_m"] == pytest.approx(45.2) and first["gimbal_pitch_deg"] == -90.0
    assert first["captured_at"] == "2025-06-01T13:20:30Z"  # the file's time, not the upload's
    assert second["latitude_deg"] == -31.5 and second["altitude_m"] == 500  # the JSON wins
    assert second["longitude_deg"] == pytest.approx(-64.19)  # what it did not say, the file says
    assert all(plain[k] is None for k in ("latitude_deg", "longitude_deg", "altitude_m", "relative_altitude_m"))
