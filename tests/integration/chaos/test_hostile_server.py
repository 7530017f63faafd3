"""Chaos: a hostile file host (issue 11). 10 % 503, 5 % 429 with Retry-After, 5 % bodies cut
short, 3 % stalled answers, 5 % damaged images (a valid length, half the JPEG): every item
ends downloaded or failed with a reason, no request arrives inside a Retry-After window the
host set, damaged bytes never reach a final path, and the run ends in bounded time."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import time
from datetime import UTC, datetime

import pytest
from aiohttp import web
from PIL import Image

from daemon.config.load import parse_config
from daemon.images import verify_image
from daemon.resources import open_resources
from daemon.store import NewItem
from tests.conftest import serve_app

pytestmark = pytest.mark.chaos
N_FILES = 60
SETTLED = ("downloaded", "processed", "failed")


def jpeg(seed: int) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (160, 120), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(40):
        x, y = rng.randrange(150), rng.randrange(110)
        img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 10, y + 10))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


class HostileSite:
    """Serves ``/files/f<N>.jpg`` and misbehaves at random (seeded)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.files = {f"f{i:03d}.jpg": jpeg(i) for i in range(N_FILES)}
        self.log: list[tuple[float, str]] = []  # (monotonic time, what was answered)
        self.retry_after_until = 0.0  # the latest Retry-After window the host announced

    async def get(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        name = request.match_info["name"]
        body = self.files.get(name)
        if body is None:
            return web.Response(status=404)
        roll = self.rng.random()
        if roll < 0.10:
            self.log.append((now, "503"))
            return web.Response(status=503, text="busy")
        if roll < 0.15:
            self.log.append((now, "429"))
            self.retry_after_until = max(self.retry_after_until, now + 1.0)
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        self.log.append((now, "200"))
        if roll < 0.20:  # cut short: Content-Length promises more than is sent
            resp = web.StreamResponse(headers={"Content-Length": str(len(body)), "Content-Type": "image/jpeg"})
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            request.transport.close()
            return resp
        if roll < 0.23:  # stalled: headers, then nothing
            resp = web.StreamResponse(headers={"Content-Length": str(len(body)), "Content-Type": "image/jpeg"})
            await resp.prepare(request)
            await asyncio.sleep(30)
            return resp
        if roll < 0.28:  # a damaged image with an honest length
            return web.Response(body=body[: len(body) // 2], content_type="image/jpeg")
        return web.Response(body=body, content_type="image/jpeg")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/files/{name}", self.get)
        return app


async def test_a_hostile_host_never_gets_damage_into_the_library(tmp_path):
    site = HostileSite(seed=3)
    async with serve_app(site.app()) as base:
        cfg = parse_config("""
data_dir = "data"
[library]
root = "library"
[http]
max_attempts = 3
backoff_initial_s = 0.05
backoff_max_s = 0.2
read_timeout_s = 1
timeout_s = 5
[downloads]
backend = "builtin"
concurrency = 4
poll_interval_s = 0.1
retry_backoff_s = 0.2
max_attempts = 4
""", tmp_path / "config.toml")
        items = [NewItem(key=name, url=f"{base}files/{name}", captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                         path=f"files/{name}") for name in site.files]
        started = time.monotonic()
        async with open_resources(cfg, "test") as res:
            await res.store.add_items("hostile", items)
            stop = asyncio.Event()
            task = asyncio.create_task(res.downloader.run(stop))
            for _ in range(600):
                rows = await res.store._read(
                    "SELECT key, status, error_code, last_error, path, sha256 FROM items")
                if all(r["status"] in SETTLED for r in rows):
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(task, 60)
        elapsed_s = time.monotonic() - started
    rows = [dict(r) for r in rows]
    assert elapsed_s < 120, (elapsed_s, [r for r in rows if r["status"] not in SETTLED])
    assert all(r["status"] in SETTLED for r in rows), rows
    failed = [r for r in rows if r["status"] == "failed"]
    assert all(r["error_code"] and r["last_error"] for r in failed), failed
    root = cfg.library.root
    originals = {hashlib.sha256(b).hexdigest() for b in site.files.values()}
    for r in rows:
        final = root / r["path"]
        if r["status"] != "failed":
            data = final.read_bytes()
            assert hashlib.sha256(data).hexdigest() in originals  # the whole original, nothing else
            verify_image(final)
        else:
            assert not final.exists()
    # no request inside a Retry-After window (requests already on the wire get 0.1 s)
    windows = [t for t, what in site.log if what == "429"]
    inside = [(round(t - w, 2), what) for w in windows for t, what in site.log if w + 0.1 < t < w + 1.0]
    assert inside == [], inside
    staging = root / ".partial"
    assert not list(staging.glob("*")) if staging.exists() else True
    done = sum(r["status"] != "failed" for r in rows)
    print(f"hostile host: {len(site.log)} requests, {done} downloaded, {len(failed)} failed "
          f"({sorted({r['error_code'] for r in failed})}), {elapsed_s:.1f} s")
    assert done >= N_FILES * 0.8  # retries carry most items through
