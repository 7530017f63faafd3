"""The built-in downloader: atomic publish, duplicate policy, hostile paths."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from daemon.config.settings import DownloadSettings, HttpSettings, LibrarySettings
from daemon.downloads.builtin import BuiltinDownloader
from daemon.http import HttpClient
from daemon.store import NewItem, SqliteStore
from tests.fakes.frames import fisheye_frame


def spec(base: str, key: str, path: str) -> NewItem:
    url = f"{base}meteorologia/cielo/image/{datetime.now().year}-0101{key}.jpg"
    return NewItem(key=key, url=url, captured_at=datetime(2025, 1, 1, tzinfo=UTC), path=path,
                   processors=())


async def run_once(store, http, root, policy: str, pool) -> None:
    settings = DownloadSettings(on_existing=policy, poll_interval_s=0.05)
    dl = BuiltinDownloader(store, http, LibrarySettings(root=root), settings, pool, "dl")
    stop = asyncio.Event()
    task = asyncio.create_task(dl.run(stop))
    for _ in range(200):
        states = await store.status_counts()
        if all(r["status"] in ("processed", "failed") for r in states["items"]):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task


@pytest.mark.parametrize("policy", ["skip", "overwrite", "rename"])
async def test_existing_file_policies(skycam, tmp_path, policy):
    site, base = skycam
    root = tmp_path / "lib"
    (root / "sky").mkdir(parents=True)
    existing = fisheye_frame(0.0, seed=99)
    (root / "sky" / "a.jpg").write_bytes(existing)
    with ThreadPoolExecutor(2) as pool:
        async with SqliteStore.open(tmp_path / "h.db") as store, HttpClient(HttpSettings()) as http:
            await store.add_items("sky", [spec(base, "0002", "sky/a.jpg")])
            await run_once(store, http, root, policy, pool)
            (row,) = [dict(r) for r in await store._read("SELECT * FROM items")]
    assert row["status"] == "processed"
    fetched = sum(site.requests.values())
    if policy == "skip":
        assert fetched == 0 and row["path"] == "sky/a.jpg"
        assert (root / "sky" / "a.jpg").read_bytes() == existing
    elif policy == "overwrite":
        assert fetched == 1 and row["path"] == "sky/a.jpg"
        assert (root / "sky" / "a.jpg").read_bytes() != existing
    else:
        assert fetched == 1 and row["path"] == "sky/a-1.jpg"
        assert (root / "sky" / "a.jpg").read_bytes() == existing
    assert not list(root.rglob("*.part"))


async def test_path_escaping_the_library_fails_the_item_only(skycam, tmp_path):
    _, base = skycam
    root = tmp_path / "lib"
    root.mkdir()
    with ThreadPoolExecutor(2) as pool:
        async with SqliteStore.open(tmp_path / "h.db") as store, HttpClient(HttpSettings()) as http:
            await store.add_items("sky", [spec(base, "0002", "../../evil.jpg"), spec(base, "0012", "ok.jpg")])
            await run_once(store, http, root, "skip", pool)
            states = await store.item_states("sky", ["0002", "0012"])
    assert states == {"0002": ("failed", "storage"), "0012": ("processed", None)}
    assert not (tmp_path / "evil.jpg").exists() and (root / "ok.jpg").is_file()


async def test_transfers_never_exceed_concurrency_while_finished_files_are_sealed(tmp_path):
    """``[downloads] concurrency`` bounds transfers (connections), not the items being sealed,
    verified and published: the server never sees more than 3 requests at once, and the
    downloader holds more than 3 items while disk work runs (issue 13, pipelining)."""
    from aiohttp import web

    from tests.conftest import serve_app

    in_flight, peak = 0, 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.05)
            return web.Response(body=b"x" * 20_000)
        finally:
            in_flight -= 1

    app = web.Application()
    app.router.add_get("/f/{name}", answer)
    async with serve_app(app) as base:
        store_path = tmp_path / "h.db"
        async with SqliteStore.open(store_path) as store, HttpClient(HttpSettings()) as http:
            await store.add_items("s", [NewItem(f"k{i}", f"{base}f/{i}.bin", datetime(2025, 1, 1, tzinfo=UTC),
                                                f"s/{i}.bin") for i in range(24)])
            settings = DownloadSettings(concurrency=3, poll_interval_s=0.05, set_mtime=False)
            (tmp_path / "lib").mkdir()
            with ThreadPoolExecutor(1) as pool:
                library = LibrarySettings(root=tmp_path / "lib")
                dl = BuiltinDownloader(store, http, library, settings, pool, "dl")
                assert dl.capacity > settings.concurrency
                held = 0
                stop = asyncio.Event()
                task = asyncio.create_task(dl.run(stop))
                for _ in range(400):
                    held = max(held, dl.busy)
                    rows = (await store.status_counts())["items"]
                    if sum(r["n"] for r in rows if r["status"] in ("downloaded", "processed")) == 24:
                        break
                    await asyncio.sleep(0.01)
                stop.set()
                await task
    assert peak == 3, peak  # connections: exactly the configured concurrency, never more
    assert held > 3  # items in hand beyond the transfers (being finished, or waiting for a slot)
    assert sorted(p.name for p in (tmp_path / "lib" / "s").iterdir()) == sorted(f"{i}.bin" for i in range(24))
