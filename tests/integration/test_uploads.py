"""POST /api/uploads → worker → GET /api/items/{id}: real files, real processors, real SQLite."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import tifffile

from daemon.api.app import build_app
from daemon.api.uploads import UploadContext
from daemon.config.api import ApiSettings
from daemon.config.load import parse_config
from daemon.resources import Resources, open_resources
from tests.integration.test_api import TOKEN, health_of
from tests.unit.worker.test_vegetation import sentinel2_sample

JPEG = (Path(__file__).parents[1] / "data" / "rocket.jpg").read_bytes()


def multiband_tiff() -> bytes:
    out = io.BytesIO()
    tifffile.imwrite(out, sentinel2_sample(), photometric="minisblack", planarconfig="separate")
    return out.getvalue()


@pytest.fixture
async def resources(tmp_path) -> AsyncIterator[Resources]:
    cfg = parse_config('data_dir = "data"\n[downloads]\nbackend = "builtin"\n[uploads]\nmax_bytes = 2000000\n'
                       '[processors.vegetation]\nkind = "vegetation"\npreset = "sentinel2"\n'
                       '[worker]\npoll_interval_s = 0.05\n', tmp_path / "c.toml")
    async with open_resources(cfg, "test") as res:
        stop = asyncio.Event()
        worker = asyncio.create_task(res.worker.run(stop))
        yield res
        stop.set()
        await worker


async def client_for(aiohttp_client, res: Resources, token: str | None = None):
    uploads = UploadContext(res.store, res.downloader, res.cfg.uploads, res.worker.wake)
    return await aiohttp_client(build_app(health_of(res), ApiSettings(token=token), uploads))


def form(data: bytes, filename: str, metadata: str | None = None) -> aiohttp.FormData:
    body = aiohttp.FormData()
    if metadata is not None:
        body.add_field("metadata", metadata, content_type="application/json")
    body.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return body


async def processed(client, item_id: int, timeout_s: float = 20) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        item = await (await client.get(f"/api/items/{item_id}")).json()
        if item["status"] == "processed":
            return item
        assert loop.time() < deadline, item
        await asyncio.sleep(0.05)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_a_multiband_tiff_upload_is_processed_to_ndvi(aiohttp_client, resources):
    client = await client_for(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(multiband_tiff(), "field 7.TIF",
                                                       '{"captured_at": "2025-06-01T10:00:00Z", "lat": -31.4}'))
    body = await resp.json()
    assert resp.status == 202 and body["status"] == "uploaded", body
    assert body["path"].startswith("uploads/") and body["path"].endswith("-field 7.tif")
    item = await processed(client, body["id"])
    assert item["captured_at"] == "2025-06-01T10:00:00Z" and item["metadata"]["user"]["lat"] == -31.4
    [result] = item["results"]
    assert result["status"] == "completed" and result["processor"] == "vegetation"
    assert abs(result["output"]["ndvi"]["mean"] - 0.4700) <= 0.0005
    root = resources.cfg.library.root
    assert (root / body["path"]).is_file()
    assert (root / body["path"]).with_name(Path(body["path"]).stem + ".ndvi.tif").is_file()


async def test_a_jpeg_gets_vari_not_ndvi(aiohttp_client, resources):
    client = await client_for(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(JPEG, "photo.jpeg"))
    item = await processed(client, (await resp.json())["id"])
    output = item["results"][0]["output"]
    assert "vari" in output and "ndvi" not in output


@pytest.mark.parametrize(("data", "name", "status", "reason"), [
    (b"%PDF-1.7 not an image", "x.jpg", 415, "by content"),
    (b"\xff\xd8\xff" + b"\x00" * 3_000_000, "big.jpg", 413, "larger than"),
    (b"", "empty.jpg", 400, "empty"),
])
async def test_rejected_uploads_leave_nothing_behind(aiohttp_client, resources, data, name, status, reason):
    client = await client_for(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(data, name))
    assert resp.status == status and reason in (await resp.json())["error"]
    assert files_under(resources.cfg.library.root) == []
    assert await resources.store.status_counts() == {"items": [], "results": []}


async def test_hostile_names_bad_json_missing_parts_and_unknown_items(aiohttp_client, resources):
    client = await client_for(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(JPEG, "../../etc/passwd.jpg"))
    body = await resp.json()
    assert resp.status == 202 and ".." not in body["path"] and body["path"].endswith("-passwd.jpg")
    resp = await client.post("/api/uploads", data=form(JPEG, "a.jpg", "{not json"))
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    no_file = aiohttp.FormData()
    no_file.add_field("metadata", "{}", content_type="application/json")  # → multipart
    resp = await client.post("/api/uploads", data=no_file)
    assert resp.status == 400 and "no 'file' part" in (await resp.json())["error"]
    resp = await client.post("/api/uploads", json={"file": "x"})
    assert resp.status == 415
    assert (await client.get("/api/items/999")).status == 404
    assert (await client.get("/api/items/abc")).status == 400


async def test_uploads_need_the_token_when_one_is_set(aiohttp_client, resources):
    client = await client_for(aiohttp_client, resources, token=TOKEN)
    assert (await client.post("/api/uploads", data=form(JPEG, "a.jpg"))).status == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = await client.post("/api/uploads", data=form(JPEG, "a.jpg"), headers=auth)
    assert resp.status == 202
