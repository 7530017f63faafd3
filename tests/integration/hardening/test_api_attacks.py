"""Issue 11 items 11, 15, 16, 17: strangers cannot drive the loopback API, and bad input is a
4xx with one JSON reason (never a 500 with a traceback)."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zlib

import aiohttp
import pytest
from PIL import Image

from daemon.api.app import build_app
from daemon.api.tasks import TaskContext
from daemon.api.uploads import UploadContext
from daemon.config.api import ApiSettings
from daemon.tasks import TaskRunner
from tests.integration.test_api import health_of
from tests.integration.test_uploads import JPEG, files_under, form
from tests.integration.test_uploads import resources as resources  # the fixture

EVIL = "https://evil.example"


async def api_client(aiohttp_client, res, **settings):
    uploads = UploadContext(res.store, res.downloader, res.cfg.uploads, res.worker.wake)
    runner = TaskRunner(res.store, res.http, lambda: {}, lambda: None)
    tasks = TaskContext(res.store, runner, lambda: {}, lambda: set(res.processors))
    return await aiohttp_client(build_app(health_of(res), ApiSettings(**settings), uploads, tasks))


async def error_of(resp: aiohttp.ClientResponse) -> str:
    body = await resp.json()
    assert set(body) == {"error"}, body
    return str(body["error"])


# ------------------------------------------------------------------ CSRF and DNS rebinding
async def test_cross_site_writes_are_refused(aiohttp_client, resources):
    client = await api_client(aiohttp_client, resources)
    task = json.dumps({"kind": "run_model", "processor": "vegetation"})
    for headers in ({"Origin": EVIL, "Content-Type": "application/json"},
                    {"Origin": "null", "Content-Type": "application/json"},
                    {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
                    {"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}):
        resp = await client.post("/api/tasks", data=task, headers=headers)
        assert resp.status == 403, headers
        assert "cross-site" in await error_of(resp)
    resp = await client.post("/api/uploads", data=form(JPEG, "a.jpg"), headers={"Origin": EVIL})
    assert resp.status == 403
    assert files_under(resources.cfg.library.root) == []
    assert await resources.store.status_counts() == {"items": [], "results": []}
    # the daemon's own origin (a dashboard page it serves) may write
    origin = f"http://{client.server.host}:{client.server.port}"
    resp = await client.post("/api/tasks", data=task, headers={"Origin": origin,
                             "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"})
    assert resp.status == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_json_endpoints_need_the_json_content_type(aiohttp_client, resources, content_type):
    client = await api_client(aiohttp_client, resources)
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/api/tasks", data=b'{"kind": "run_model", "processor": "vegetation"}',
                             headers=headers, skip_auto_headers=["Content-Type"])
    assert resp.status == 415 and "application/json" in await error_of(resp)
    assert (await resources.store.list_tasks(10, 0))[1] == 0


async def test_foreign_host_headers_are_refused(aiohttp_client, resources):
    client = await api_client(aiohttp_client, resources)
    for path in ("/api/health", "/api/tasks", "/api/items/1", "/metrics"):
        resp = await client.get(path, headers={"Host": "rebind.evil.example"})
        assert resp.status == 421 and "rebind.evil.example" in await error_of(resp), path
    for host in ("localhost", "127.0.0.1", f"localhost:{client.server.port}", "[::1]:8750"):
        assert (await client.get("/api/health", headers={"Host": host})).status == 200, host
    allowed = await api_client(aiohttp_client, resources, allowed_hosts=["nas.lan"])
    assert (await allowed.get("/api/health", headers={"Host": "nas.lan:8750"})).status == 200
    assert (await allowed.get("/api/health", headers={"Host": "other.lan"})).status == 421


# ------------------------------------------------------------------ bad input: 400, not 500
def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("body", [
    deep_json(100_000), b"{\"kind\": " + b"9" * 5000 + b"}", b"\xff\xfe not utf-8", b"{\"a\": NaN}",
    b"[1, 2", b"",
])
async def test_bad_json_bodies_are_400(aiohttp_client, resources, body):
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/tasks", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    await error_of(resp)


@pytest.mark.parametrize("path", ["/api/items/9223372036854775808", "/api/task/99999999999999999999999",
                                  "/api/items/-1", "/api/tasks?offset=9223372036854775808",
                                  "/api/tasks?limit=1e3"])
async def test_out_of_range_ids_and_offsets_are_400(aiohttp_client, resources, path):
    client = await api_client(aiohttp_client, resources)
    resp = await client.get(path)
    assert resp.status == 400, await resp.text()


async def test_non_utf8_authorization_header_is_401(aiohttp_client, resources):
    client = await api_client(aiohttp_client, resources, token="t0ken-0f-sixteen-chars")
    resp = await client.post("/api/tasks", data=b"{}", headers={"Content-Type": "application/json",
                                                                "Authorization": "Bearer \udcff\udcfe"})
    assert resp.status == 401


MULTIPART_BAD = [
    # no boundary in the body at all
    (b"multipart/form-data; boundary=xyz", b"garbage without boundary"),
    # a header line far too long
    (b"multipart/form-data; boundary=xyz",
     b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nX: " + b"a" * 70000
     + b"\r\n\r\n\xff\xd8\xff\r\n--xyz--\r\n"),
    # a metadata part in an unknown charset, and one that is not UTF-8
    (b"multipart/form-data; boundary=xyz",
     b"--xyz\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: text/plain; "
     b"charset=x-no-such-charset\r\n\r\n{}\r\n--xyz--\r\n"),
    (b"multipart/form-data; boundary=xyz",
     b"--xyz\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n\xff\xfe{}\r\n--xyz--\r\n"),
]


@pytest.mark.parametrize(("ctype", "body"), MULTIPART_BAD)
async def test_malformed_multipart_is_400(aiohttp_client, resources, ctype, body):
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=body, headers={"Content-Type": ctype.decode()})
    assert 400 <= resp.status < 500, await resp.text()
    await error_of(resp)
    assert files_under(resources.cfg.library.root) == []


# ------------------------------------------------------------------ uploads: decoded, metadata checked
def png_bytes(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG of width × height black pixels: a few hundred KB that decode to GBs."""
    packer, row = zlib.compressobj(9), b"\x00" * (width * 3 + 1)  # filter byte + RGB row
    raw = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("data", "status", "reason"), [
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, 415, "decodable"),
    (png_bytes(64, 64)[:-40], 415, "decodable"),  # truncated
    (bomb_png(9000, 9000), 413, "pixels"),  # 81 MP: a 0.2 MB file, 243 MB decoded
])
async def test_undecodable_or_oversized_uploads_are_refused(aiohttp_client, resources, data, status, reason):
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(data, "x.png"))
    assert resp.status == status, await resp.text()
    assert reason in await error_of(resp)
    assert files_under(resources.cfg.library.root) == []
    assert await resources.store.status_counts() == {"items": [], "results": []}


async def test_an_image_sent_one_byte_at_a_time_is_sniffed_whole(aiohttp_client, resources):
    client = await api_client(aiohttp_client, resources)
    data = png_bytes(32, 32)
    boundary = "bnd"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def trickle():
        yield head
        for i in range(len(data)):
            yield data[i:i + 1]
        yield tail

    resp = await client.post("/api/uploads", data=trickle(),
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert resp.status == 202, await resp.text()


@pytest.mark.parametrize("metadata", ['{"alt": NaN}', '{"lat": Infinity}', '{"captured_at": 5}',
                                      '{"captured_at": "9999-12-31T23:59:59-05:00"}'])
async def test_bad_metadata_is_400(aiohttp_client, resources, metadata):
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(png_bytes(8, 8), "a.png", metadata))
    assert resp.status == 400, await resp.text()
    await error_of(resp)
    assert files_under(resources.cfg.library.root) == []


async def test_upload_metadata_cannot_pose_as_a_nasa_photo(aiohttp_client, resources):
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/uploads", data=form(png_bytes(8, 8), "a.png",
                                                       '{"kind": "iss_photo", "nasa_id": "ISS999-E-1"}'))
    assert resp.status == 202
    rows = await resources.store._read("SELECT * FROM iss_photos")
    assert rows == []
    item = await (await client.get(f"/api/items/{(await resp.json())['id']}")).json()
    assert item["metadata"]["user"] == {"kind": "iss_photo", "nasa_id": "ISS999-E-1"}


@pytest.mark.parametrize("body", [
    {"kind": "run_model", "processor": {"a": 1}}, {"kind": "backfill", "source": ["sky"]},
    {"kind": "ingest", "source": {"x": 1}}, {"kind": ["backfill"]},
    {"kind": "run_model", "processor": "vegetation", "items": {"keys": [{"a": 1}], "source": 5}},
])
async def test_task_fields_of_the_wrong_type_are_400(aiohttp_client, resources, body):
    """Found by schemathesis: an object where a name belongs was a 500 (unhashable)."""
    client = await api_client(aiohttp_client, resources)
    resp = await client.post("/api/tasks", json=body)
    assert resp.status == 400, await resp.text()
    await error_of(resp)


async def test_a_trickled_json_body_times_out_with_408(aiohttp_client, resources, monkeypatch):
    monkeypatch.setattr("daemon.api.params.BODY_TIMEOUT_S", 0.5)
    client = await api_client(aiohttp_client, resources)

    async def trickle():
        yield b'{"kind": '
        await asyncio.sleep(2)
        yield b'"run_model", "processor": "vegetation"}'

    resp = await client.post("/api/tasks", data=trickle(), headers={"Content-Type": "application/json"})
    assert resp.status == 408 and "did not arrive" in await error_of(resp)


async def test_a_stalled_request_head_is_closed_after_the_header_timeout(resources):
    """Issue 11 item 13: 400 stalled clients held 817 descriptors for as long as they liked."""
    import time

    from daemon.api.app import start_api

    settings = ApiSettings(listen="127.0.0.1:0", header_timeout_s=1.0)
    runner = await start_api(build_app(health_of(resources), settings), settings)
    try:
        host, port = runner.addresses[0][:2]
        for head in (b"", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"):  # idle, then half a head
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(head)
            await writer.drain()
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
            assert time.monotonic() - started < 5
            writer.close()
    finally:
        await runner.cleanup()


async def test_an_upload_of_exactly_one_mebibyte_is_not_called_empty(aiohttp_client, resources):
    """The buffer is flushed at every 1 MiB: a file of exactly that size left it empty."""
    client = await api_client(aiohttp_client, resources)
    data = JPEG + b"\x00" * ((1 << 20) - len(JPEG))  # trailing bytes after EOI still decode
    assert len(data) == 1 << 20
    resp = await client.post("/api/uploads", data=form(data, "mib.jpg"))
    assert resp.status == 202, await resp.text()
