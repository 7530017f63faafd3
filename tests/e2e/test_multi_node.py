"""N daemons, one queue (issue 15): three ``harvestd run`` processes with different node names
on one PostgreSQL database backfill two days of the imitation sky camera together — with one
shared library folder: exact counts, every image fetched once, one result per item, the
scheduled fire run by one node; then with an S3 library (moto's S3 server; each node its own
working copy) and one node SIGKILLed mid-run: the others finish its work after its leases
expire, nothing lost, nothing done twice, no partial file or object, every image fetched once
but the killed node's in-flight ones."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from tests.conftest import skycam_config_text
from tests.pg import fresh_schema
from tests.procs import DaemonProcess
from tests.s3 import CREDENTIALS, Bucket, moto_bucket

pytestmark = pytest.mark.e2e
SINCE, UNTIL = "2024-06-14T00:00", "2024-06-15T23:59"  # two days: 288 slots
SLOTS = 288
LEASE_S = 3.0  # a killed node's work is taken over after this


def node_config(base: str, url: str, library: Path, node: str, bucket: Bucket | None) -> str:
    text = skycam_config_text(base, schedule='"0 3 * * *"', run_on_start="true", lookback_s=600)
    text = text.replace("[daemon]\n", f'[daemon]\nnode_name = "{node}"\nheartbeat_s = 1\n', 1)
    if bucket is None:  # one folder shared by the three (a NAS mount)
        text = text.replace('[library]\nroot = "library"', f'[library]\nroot = "{library}"', 1)
    else:  # the bucket; "library" is each node's own working copy
        text = text.replace('[library]\n', f'[library]\nurl = "s3://{bucket.name}/harvest"\n'
                                             f'endpoint_url = "{bucket.endpoint_url}"\n', 1)
    text = text.replace("[downloads]\n", f"[downloads]\nlease_s = {LEASE_S}\n", 1)
    text = text.replace("[worker]\n", f"[worker]\nlease_s = {LEASE_S}\n", 1)
    return text + f'\n[store]\nurl = "{url}"\npool_size = 3\n'


async def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return list(await (await conn.execute(sql)).fetchall())


async def start_nodes(base: str, url: str, tmp_path: Path,
                      bucket: Bucket | None) -> tuple[list[DaemonProcess], list[str]]:
    library = tmp_path / "library"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **CREDENTIALS}
    nodes, apis = [], []
    for name in ("node-a", "node-b", "node-c"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.toml").write_text(node_config(base, url, library, name, bucket), encoding="utf-8")
        nodes.append(await DaemonProcess.start(folder / "config.toml", folder, env))
    for node in nodes:
        listening = await node.wait_for(lambda e: e["event"] == "api_listening", 60)
        apis.append(listening["url"].removesuffix("/health"))
    return nodes, apis


async def post_backfill(api: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
            f"{api}/tasks", json={"kind": "backfill", "source": "sky", "since": SINCE, "until": UNTIL}) as resp:
        assert resp.status == 202, await resp.text()
        return int((await resp.json())["id"])


async def wait_done(url: str, timeout_s: float = 240.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        [(open_items,)] = await rows(url, "SELECT COUNT(*) FROM items WHERE status != 'processed'")
        [(open_results,)] = await rows(url, "SELECT COUNT(*) FROM results WHERE status != 'completed'")
        [(items,)] = await rows(url, "SELECT COUNT(*) FROM items")
        [(stage,)] = await rows(url, "SELECT COALESCE(MAX(stage), '-') FROM tasks")
        if items >= SLOTS and open_items == 0 and open_results == 0 and stage == "completed":
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"not done: {open_items} items and {open_results} results open, task {stage}")


async def stop_all(nodes: list[DaemonProcess]) -> None:
    for node in nodes:
        if node.proc.returncode is None:
            node.proc.terminate()
    for node in nodes:
        code = await asyncio.wait_for(node.proc.wait(), 60)
        assert code in (0, -9), "\n".join(node.raw[-30:])


def check_files(library: Path, recorded: list[tuple[Any, ...]], served: set[str]) -> None:
    """Every recorded file whole and as served, nothing else in the library, no partial file."""
    for path, sha in recorded:
        assert hashlib.sha256((library / path).read_bytes()).hexdigest() == sha and sha in served
    final = [p for p in library.rglob("*") if p.is_file() and ".partial" not in p.parts]
    assert len(final) == len(recorded)
    staging = library / ".partial"
    assert not list(staging.glob("*")) if staging.exists() else True


def check_objects(bucket: Bucket, recorded: list[tuple[Any, ...]], served: set[str], tmp_path: Path) -> None:
    """Every recorded file an object with its SHA-256, nothing else in the bucket, no partial
    file in any node's working copy."""
    objects = bucket.objects("harvest/")
    assert {f"harvest/{path}": sha for path, sha in recorded} == {k: v["sha256"] for k, v in objects.items()}
    assert all(sha in served for _path, sha in recorded)
    for node in ("node-a", "node-b", "node-c"):
        copy = tmp_path / node / "library"
        assert not [p for p in copy.rglob("*") if p.is_file() and (p.name.endswith(".part")
                                                                    or ".partial" in p.parts)]


async def check_outcome(url: str, site: Any, tmp_path: Path, bucket: Bucket | None) -> dict[str, int]:
    """Exact counts, one result per item, each file whole and as served; returns the images
    fetched more than once (key → requests)."""
    [(items,)] = await rows(url, "SELECT COUNT(*) FROM items WHERE source = 'sky'")
    assert items >= SLOTS
    assert await rows(url, "SELECT status, COUNT(*) FROM items GROUP BY status") == [("processed", items)]
    assert await rows(url, "SELECT status, COUNT(*) FROM results GROUP BY status") == [("completed", items)]
    assert await rows(url, "SELECT item_id FROM results GROUP BY item_id HAVING COUNT(*) > 1") == []
    served = {hashlib.sha256(body).hexdigest() for body in site.cache.values()}
    recorded = await rows(url, "SELECT path, sha256 FROM items")
    if bucket is None:
        await asyncio.to_thread(check_files, tmp_path / "library", recorded, served)
    else:
        await asyncio.to_thread(check_objects, bucket, recorded, served, tmp_path)
    images = {k: n for k, n in site.requests.items() if k.endswith(".jpg")}
    assert len(images) == items
    return {k: n for k, n in images.items() if n > 1}


@pytest.fixture(params=["folder", "s3"])
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket | None]:
    """None (one shared library folder) or a bucket on moto's S3 server."""
    if request.param == "folder":
        yield None
        return
    with moto_bucket() as made:
        yield made


@pytest.mark.parametrize("bucket", ["folder"], indirect=True)  # S3: the run below, with a node killed
async def test_three_nodes_share_one_queue(skycam, tmp_path, bucket):
    site, base = skycam
    site.latency_s = 0.02
    site.frame_size = (240, 180)  # the imitation draws each frame: small ones keep the test quick
    async with fresh_schema() as url:
        nodes, apis = await start_nodes(base, url, tmp_path, bucket)
        try:
            await post_backfill(apis[1])
            await wait_done(url)
            # the run_on_start fire was taken by exactly one node; the other two said so
            assert sum(1 for n in nodes for e in n.events if e["event"] == "source_run_skipped"
                       and "took this scheduled run" in e.get("reason", "")) == 2
            async with aiohttp.ClientSession() as http, http.get(f"{apis[0]}/health") as resp:
                health = await resp.json()
            seen = {n["name"] for n in health["checks"]["nodes"]["nodes"]}
            assert seen == {"node-a", "node-b", "node-c"}
            assert await rows(url, "SELECT COUNT(*) FROM results WHERE lease_owner IS NOT NULL") == [(0,)]
        finally:
            await stop_all(nodes)
        shares = [n.count("downloaded") for n in nodes]
        processed = [n.count("result_completed") for n in nodes]
        assert sum(shares) == sum(processed) >= SLOTS, (shares, processed)
        assert min(shares) > 0 and min(processed) > 0, (shares, processed)  # all three took work
        twice = await check_outcome(url, site, tmp_path, bucket)
        assert twice == {}  # every image fetched exactly once
        [(tasks_done,)] = await rows(url, "SELECT COUNT(*) FROM tasks WHERE stage = 'completed'")
        assert tasks_done == 1
        runs = await rows(url, "SELECT owner FROM runs WHERE trigger = 'schedule'")
        assert len(runs) == 1  # one node ran the scheduled fire
    print(f"3 nodes: downloads per node {shares}, results per node {processed}, 1 request per image")


@pytest.mark.parametrize("bucket", ["s3"], indirect=True)  # a killed daemon on a folder: the chaos storms
async def test_a_killed_node_s_work_is_finished_by_the_others(skycam, tmp_path, bucket):
    site, base = skycam
    site.latency_s = 0.08  # slow enough that node-b holds downloads when it is killed
    site.frame_size = (240, 180)
    async with fresh_schema() as url:
        nodes, apis = await start_nodes(base, url, tmp_path, bucket)
        try:
            await post_backfill(apis[0])
            held: list[tuple[Any, ...]] = []
            for _ in range(300):
                held = await rows(url, "SELECT key FROM items WHERE status = 'downloading'"
                                  " AND lease_owner LIKE 'node-b:%'")
                if held:
                    break
                await asyncio.sleep(0.05)
            assert held, "node-b never held a download"
            nodes[1].proc.kill()  # SIGKILL: no lease given back
            await nodes[1].proc.wait()
            await wait_done(url)
        finally:
            await stop_all(nodes)
        twice = await check_outcome(url, site, tmp_path, bucket)
        # only what node-b was fetching when it died is fetched again (at most once more)
        assert all(n == 2 for n in twice.values()) and len(twice) <= 4  # node-b's 4 transfers at most
