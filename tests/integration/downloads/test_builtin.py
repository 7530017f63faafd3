"""The built-in downloader: atomic publish, duplicate policy, hostile paths."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from daemon.config.settings import DownloadSettings, HttpSettings, LibrarySettings
from daemon.downloads.builtin import BuiltinDownloader
from daemon.http import HttpClient
from daemon.store import NewItem, Store
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
        async with Store.open(tmp_path / "h.db") as store, HttpClient(HttpSettings()) as http:
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
        async with Store.open(tmp_path / "h.db") as store, HttpClient(HttpSettings()) as http:
            await store.add_items("sky", [spec(base, "0002", "../../evil.jpg"), spec(base, "0012", "ok.jpg")])
            await run_once(store, http, root, "skip", pool)
            states = await store.item_states("sky", ["0002", "0012"])
    assert states == {"0002": ("failed", "storage"), "0012": ("processed", None)}
    assert not (tmp_path / "evil.jpg").exists() and (root / "ok.jpg").is_file()
