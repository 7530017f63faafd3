"""The S3 library (issue 15) against a real S3 protocol server (moto, over HTTP, through
obstore): uploads with their SHA-256, multipart for big files, the duplicate policies, an
object either whole or absent, a bounded working copy, downloads paused while the bucket is
unreachable, and a whole skycam backfill landing in the bucket."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from daemon.library.files import LibraryFiles, WorkingCopy
from daemon.library.objects import CHUNK_BYTES, ObjectLibrary, ObjectStoreError
from tests.integration.test_tasks import daemon_like
from tests.s3 import moto_bucket


@pytest.fixture
def bucket():
    with moto_bucket() as made:
        yield made


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_uploads_carry_their_digest_and_big_files_go_in_parts(bucket, tmp_path):
    lib = ObjectLibrary(f"s3://{bucket.name}/harvest", bucket.endpoint_url)
    small, big = tmp_path / "a.jpg", tmp_path / "big.tif"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(2 * CHUNK_BYTES + 123))
    for path, key in ((small, "sky/a.jpg"), (big, "geo/big.tif")):
        got = await lib.upload(path, key, "overwrite", sha(path), path.stat().st_size)
        assert (got.key, got.size_bytes, got.sha256) == (key, path.stat().st_size, sha(path))
    objects = bucket.objects("harvest/")
    assert objects == {"harvest/sky/a.jpg": {"size": 1000, "sha256": sha(small)},
                       "harvest/geo/big.tif": {"size": big.stat().st_size, "sha256": sha(big)}}
    etag = bucket.client.head_object(Bucket=bucket.name, Key="harvest/geo/big.tif")["ETag"]
    assert etag.strip('"').endswith("-3")  # three parts
    back = tmp_path / "back" / "big.tif"
    assert await lib.download("geo/big.tif", back) == big.stat().st_size
    assert back.read_bytes() == big.read_bytes() and not back.with_name("big.tif.part").exists()
    assert await lib.head("geo/none.tif") is None
    with pytest.raises(FileNotFoundError):
        await lib.download("geo/none.tif", tmp_path / "none.tif")
    assert not (tmp_path / "none.tif.part").exists()


async def test_duplicate_policies(bucket, tmp_path):
    lib = ObjectLibrary(f"s3://{bucket.name}", bucket.endpoint_url)
    first, second = tmp_path / "1.jpg", tmp_path / "2.jpg"
    first.write_bytes(b"first")
    second.write_bytes(b"second!")
    await lib.upload(first, "x/p.jpg", "skip", sha(first), 5)
    kept = await lib.upload(second, "x/p.jpg", "skip", sha(second), 7)
    assert (kept.key, kept.sha256) == ("x/p.jpg", sha(first))  # skip: the object stays
    renamed = [await lib.upload(second, "x/p.jpg", "rename", sha(second), 7) for _ in range(2)]
    assert [r.key for r in renamed] == ["x/p-1.jpg", "x/p-2.jpg"]
    await lib.upload(second, "x/p.jpg", "overwrite", sha(second), 7)
    assert bucket.objects("x/")["x/p.jpg"] == {"size": 7, "sha256": sha(second)}


async def test_a_tampered_object_is_refused_on_read(bucket, tmp_path):
    lib = ObjectLibrary(f"s3://{bucket.name}", bucket.endpoint_url)
    path = tmp_path / "a.jpg"
    path.write_bytes(b"the real bytes")
    await lib.upload(path, "a.jpg", "overwrite", sha(path), path.stat().st_size)
    bucket.client.put_object(Bucket=bucket.name, Key="a.jpg", Body=b"other bytes!!!",
                             Metadata={"sha256": sha(path)})
    with pytest.raises(ObjectStoreError, match="SHA-256 differs"):
        await lib.download("a.jpg", tmp_path / "copy.jpg")
    assert not (tmp_path / "copy.jpg").exists()


async def test_the_working_copy_stays_under_its_bound(bucket, tmp_path):
    lib = ObjectLibrary(f"s3://{bucket.name}", bucket.endpoint_url)
    root = tmp_path / "copy"
    working = WorkingCopy(root, max_bytes=2500, min_idle_s=0)
    files = LibraryFiles(lambda: root, lib, working)
    source = tmp_path / "src.bin"
    for i in range(5):
        source.write_bytes(bytes([i]) * 1000)
        await lib.upload(source, f"f{i}.bin", "overwrite", sha(source), 1000)
    for i in range(5):
        local = await files.local(f"f{i}.bin")
        assert local.read_bytes() == bytes([i]) * 1000
    kept = sorted(p.name for p in root.iterdir())
    assert kept == ["f3.bin", "f4.bin"] and working.total_bytes == 2000
    assert (await files.local("f0.bin")).read_bytes() == bytes([0]) * 1000  # fetched again
    with pytest.raises(Exception, match="escapes"):
        await files.local("../outside.bin")


async def test_a_backfill_lands_in_the_bucket_and_pauses_while_it_is_down(bucket, skycam, write_config):
    _site, base = skycam
    _, cfg = write_config(base)
    lib = cfg.library.model_copy(update={"url": f"s3://{bucket.name}/harvest",
                                         "endpoint_url": bucket.endpoint_url})
    cfg = cfg.model_copy(update={"library": lib})
    async with daemon_like(cfg) as (res, tasks):
        task = await res.store.create_task("backfill", {"source": "sky", "since": "2024-06-15T12:00",
                                                        "until": "2024-06-15T13:59"})
        tasks.runner.wake.set()
        await completed(res.store, task)
        rows = await res.store.result_rows("sky")
        assert len(rows) == 12 and {r["status"] for r in rows} == {"completed"}
        objects = bucket.objects("harvest/")
        assert {f"harvest/{r['path']}" for r in rows} == set(objects)
        recorded = {f"harvest/{r['path']}": r["sha256"] for r in await res.store._read(
            "SELECT path, sha256 FROM items")}
        assert {k: v["sha256"] for k, v in objects.items()} == recorded
        # the bucket goes away: downloads pause (nothing claimed, nothing failed), then resume
        bucket.stop()
        res.downloader.guard.force_remote_check()
        state = await res.downloader.recheck_library()
        assert state.paused and bucket.name in (state.reason or "")
        assert await res.downloader.claim(10) == []
        assert res.downloader.guard.state.paused
        # another hour is queued while the bucket is away: nothing is claimed, nothing fails
        task = await res.store.create_task("backfill", {"source": "sky", "since": "2024-06-15T14:00",
                                                        "until": "2024-06-15T14:59"})
        tasks.runner.wake.set()
        await asyncio.sleep(1.5)
        assert {r["status"] for r in (await res.store.status_counts())["items"]} <= {"processed", "discovered"}
        # back (an empty endpoint on the same address): downloads resume by themselves
        await asyncio.to_thread(bucket.restart)
        await completed(res.store, task)
        assert not res.downloader.guard.state.paused
        assert len(bucket.objects("harvest/")) == 6  # the new hour's images, in the bucket


async def completed(store, task_id: int, timeout_s: float = 60.0) -> None:
    for _ in range(int(timeout_s * 10)):
        got = await store.get_task(task_id)
        if got and got["stage"] == "completed":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} not completed: {got}")


async def test_every_put_carries_a_sha256_the_server_can_verify(bucket, tmp_path):
    """A recording hop in front of the S3 server: each PUT (and each part) carries
    ``x-amz-checksum-sha256`` equal to the SHA-256 of the bytes it sends."""
    import base64

    from aiohttp import ClientSession, web

    from tests.conftest import serve_app

    seen: list[tuple[str, str | None, bytes]] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "PUT":
            seen.append((request.path_qs, request.headers.get("x-amz-checksum-sha256"), body))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with ClientSession() as http, http.request(request.method, bucket.endpoint_url + request.path_qs,
                                                         headers=headers, data=body) as resp:
            payload = await resp.read()
            hop_by_hop = ("content-length", "transfer-encoding", "content-encoding", "connection")
            return web.Response(status=resp.status, body=payload, headers={
                k: v for k, v in resp.headers.items() if k.lower() not in hop_by_hop})

    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{tail:.*}", forward)
    async with serve_app(app) as hop:
        lib = ObjectLibrary(f"s3://{bucket.name}", hop.rstrip("/"))
        small, big = tmp_path / "a.jpg", tmp_path / "b.tif"
        small.write_bytes(os.urandom(5000))
        big.write_bytes(os.urandom(CHUNK_BYTES + 10))
        for path in (small, big):
            await lib.upload(path, path.name, "overwrite", sha(path), path.stat().st_size)
    assert len(seen) == 3  # one PUT, then two parts
    for _path, header, body in seen:
        assert header == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert bucket.objects()["b.tif"]["size"] == big.stat().st_size


async def test_one_object_wanted_by_several_at_once_is_fetched_once_and_whole(bucket, tmp_path):
    """Two processors (and the dashboard) asking a node for the same original it lacks."""
    lib = ObjectLibrary(f"s3://{bucket.name}", bucket.endpoint_url)
    source = tmp_path / "big.jpg"
    source.write_bytes(os.urandom(3 << 20))
    await lib.upload(source, "sky/big.jpg", "overwrite", sha(source), source.stat().st_size)
    root = tmp_path / "copy"
    files = LibraryFiles(lambda: root, lib, WorkingCopy(root, 1 << 30))
    paths = await asyncio.gather(*(files.local("sky/big.jpg") for _ in range(5)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == source.read_bytes()
    gets = [ln for ln in bucket.request_log() if ln.startswith("GET /") and "big.jpg" in ln]
    assert len(gets) == 1, gets
