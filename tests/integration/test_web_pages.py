"""Dashboard pieces without a browser: library files only from inside the root (Range,
ETag), thumbnails made once and again when missing, FITS header summaries on the telescope
page, the form rules (token, CSRF)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from daemon.api.app import build_app
from daemon.api.controls import ControlsContext
from daemon.config.api import ApiSettings
from daemon.controls import Controls
from daemon.resources import Resources, open_resources
from daemon.web.thumbs import Thumbnails, thumb_path
from daemon.web.views import WebContext
from tests.integration.test_api import config, health_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def res(tmp_path: Path) -> AsyncIterator[Resources]:
    async with open_resources(config(tmp_path), "test") as resources:
        yield resources


def _insert(db: Path, source: str, key: str, path: str, metadata: dict[str, object]) -> int:
    conn = sqlite3.connect(db)
    try:
        cur = conn.execute(
            "INSERT INTO items (source, key, captured_at, metadata, status, path, created_at, updated_at)"
            " VALUES (?, ?, '2026-11-20T02:00:00+00:00', ?, 'downloaded', ?, 'now', 'now')",
            (source, key, json.dumps(metadata), path))
        conn.commit()
        return int(cur.lastrowid or 0)
    finally:
        conn.close()


def _app(res: Resources, tmp_path: Path, token: str | None = None,  # type: ignore[no-untyped-def]
         tile_url: str | None = None):
    library = res.cfg.library.root
    controls = Controls(res.store)
    kinds = {"slooh": "slooh", "sky": "skycam", "iss": "nasa_iss"}
    thumbs = Thumbnails(tmp_path / "data", res.pool)
    web_ctx = WebContext(res.store, controls, lambda: kinds, lambda: library, thumbs, lambda: token,
                         lambda: tile_url)
    settings = ApiSettings(token=token) if token else ApiSettings()
    control_ctx = ControlsContext(controls, lambda: kinds, lambda: None)
    return build_app(health_of(res), settings, controls=control_ctx, web_ctx=web_ctx), web_ctx


async def test_files_come_only_from_inside_the_library_with_ranges(res: Resources, tmp_path: Path,
                                                                    aiohttp_client) -> None:
    library = res.cfg.library.root
    (library / "sky").mkdir(parents=True)
    Image.fromarray(np.full((480, 640, 3), 120, np.uint8)).save(library / "sky" / "a.jpg")
    (tmp_path / "secret.txt").write_text("not yours")
    good = _insert(res.store.path, "sky", "a", "sky/a.jpg", {})
    escape = _insert(res.store.path, "sky", "b", "../../secret.txt", {})
    app, web_ctx = _app(res, tmp_path)
    client = await aiohttp_client(app)
    whole = await client.get(f"/files/{good}")
    assert whole.status == 200 and whole.headers["ETag"]
    # a library file is shown, never run (a hostile "photo" cannot script the dashboard's origin)
    assert whole.headers["Content-Security-Policy"].startswith("sandbox;")
    page = await client.get("/gallery/sky")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    body = await whole.read()
    part = await client.get(f"/files/{good}", headers={"Range": "bytes=0-99"})
    assert part.status == 206 and await part.read() == body[:100]
    again = await client.get(f"/files/{good}", headers={"If-None-Match": whole.headers["ETag"]})
    assert again.status == 304
    assert (await client.get(f"/files/{escape}")).status == 404
    assert (await client.get(f"/thumbs/{escape}.jpg")).status == 404
    # a thumbnail is made once, and again when its cached file is gone
    thumb = await client.get(f"/thumbs/{good}.jpg")
    assert thumb.status == 200 and Image.open(__import__("io").BytesIO(await thumb.read())).size == (320, 240)
    await client.get(f"/thumbs/{good}.jpg")
    assert web_ctx.thumbs.made == 1
    thumb_path(tmp_path / "data", good).unlink()
    assert (await client.get(f"/thumbs/{good}.jpg")).status == 200 and web_ctx.thumbs.made == 2


async def test_the_telescope_page_lists_fits_headers(res: Resources, tmp_path: Path, aiohttp_client) -> None:
    library = res.cfg.library.root
    folder = library / "M42" / "Canary Two" / "FITS"
    folder.mkdir(parents=True)
    cards = {"OBJECT": "M42", "TELESCOP": "Canary Two", "INSTRUME": "QHY600", "FILTER": "Ha", "EXPTIME": 30.0,
             "DATE-OBS": "2026-11-20T02:00:00"}
    header = fits.Header(cards)
    fits.PrimaryHDU(np.zeros((16, 16), np.uint16), header=header).writeto(folder / "m42_ha.fit")
    _insert(res.store.path, "slooh", "1:fits", "M42/Canary Two/FITS/m42_ha.fit",
            {"object": "M42", "telescope": "Canary Two", "format": "FITS"})
    _insert(res.store.path, "slooh", "2:fits", "M42/Canary Two/FITS/broken.fit",
            {"object": "M42", "telescope": "Canary Two", "format": "FITS"})
    (folder / "broken.fit").write_bytes(b"SIMPLE  = nonsense")
    app, _ctx = _app(res, tmp_path)
    client = await aiohttp_client(app)
    data = await (await client.get("/api/telescope/slooh?object=M42")).json()
    assert data["counts"] == [{"object": "M42", "telescope": "Canary Two", "format": "FITS", "n": 2}]
    headers = {it["key"]: it["fits_header"] for it in data["items"]}
    assert headers["1:fits"] == cards
    assert "not a readable FITS header" in headers["2:fits"]["error"]
    page = await client.get("/telescope/slooh?object=M42")
    text = await page.text()
    assert page.status == 200 and "QHY600" in text and "INSTRUME" in text
    assert (await client.get("/telescope/sky")).status == 404  # not a telescope source


async def test_forms_need_the_csrf_cookie_or_the_api_token(res: Resources, tmp_path: Path,
                                                           aiohttp_client) -> None:
    app, _ctx = _app(res, tmp_path)
    client = await aiohttp_client(app)
    page = await client.get("/queues")
    csrf = page.cookies["harvestd_csrf"].value
    assert f'value="{csrf}"' in await page.text()
    refused = await client.post("/ui/downloads/pause", data={"csrf": "0" * 32}, allow_redirects=False)
    assert refused.status == 403 and await res.store.controls() == {}
    done = await client.post("/ui/downloads/pause", data={"csrf": csrf, "next": "/queues"},
                             allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/queues"
    assert list(await res.store.controls()) == ["downloads"]
    elsewhere = await client.post("/ui/downloads/resume", data={"csrf": csrf, "next": "//evil.example/"},
                                  allow_redirects=False)
    assert elsewhere.headers["Location"] == "/"  # never redirected off the site

    token_app, _ctx = _app(res, tmp_path, token="t" * 20)
    token_client = await aiohttp_client(token_app)
    assert (await token_client.post("/ui/downloads/pause", data={"api_token": "wrong"},
                                    allow_redirects=False)).status == 401
    assert (await token_client.post("/ui/downloads/pause", data={"api_token": "t" * 20},
                                    allow_redirects=False)).status == 303
    assert (await token_client.post("/api/controls/downloads/resume")).status == 401  # JSON: the bearer header
    ok = await token_client.post("/api/controls/downloads/resume",
                                 headers={"Authorization": "Bearer " + "t" * 20})
    assert ok.status == 200 and (await ok.json())["downloads_paused"] is False


async def test_an_index_preview_is_served_from_beside_its_image_only(res: Resources, tmp_path: Path,
                                                                     aiohttp_client) -> None:
    library = res.cfg.library.root
    (library / "uploads").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(library / "uploads" / "field.png")
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(library / "uploads" / "field.ndvi.png")
    item = _insert(res.store.path, "uploads", "u1", "uploads/field.png", {})
    conn = sqlite3.connect(res.store.path)
    for processor, preview in (("vegetation", "field.ndvi.png"), ("evil", "../../secret.png")):
        conn.execute("INSERT INTO results (item_id, source, processor, status, output, created_at, updated_at)"
                     " VALUES (?, 'uploads', ?, 'completed', ?, 'now', 'now')",
                     (item, processor, json.dumps({"ndvi": {"mean": 0.4}, "files": {"preview": preview}})))
    conn.commit()
    ids = [r[0] for r in conn.execute("SELECT id FROM results ORDER BY id")]
    conn.close()
    app, _ctx = _app(res, tmp_path)
    client = await aiohttp_client(app)
    page = await (await client.get(f"/items/{item}")).text()
    assert f"/items/{item}/results/{ids[0]}/preview" in page and "0.4" in page
    good = await client.get(f"/items/{item}/results/{ids[0]}/preview")
    assert good.status == 200 and (await good.read())[:8] == b"\x89PNG\r\n\x1a\n"
    assert good.headers["Content-Security-Policy"].startswith("sandbox;")
    assert (await client.get(f"/items/{item}/results/{ids[1]}/preview")).status == 404
    assert (await client.get(f"/items/{item}/results/999/preview")).status == 404


async def test_pages_render_odd_but_valid_rows(res: Resources, tmp_path: Path, aiohttp_client) -> None:
    """A user classifier's result: octas without a cloud fraction; an item with no file yet."""
    item = _insert(res.store.path, "sky", "k1", "sky/none.jpg", {"note": "<b>not markup</b>"})
    conn = sqlite3.connect(res.store.path)
    conn.execute("INSERT INTO results (item_id, source, processor, status, output, octas, created_at,"
                 " updated_at) VALUES (?, 'sky', 'octas', 'completed', ?, 4, 'now', 'now')",
                 (item, json.dumps({"condition": "day"})))
    conn.commit()
    conn.close()
    app, _ctx = _app(res, tmp_path)
    client = await aiohttp_client(app)
    page = await client.get(f"/items/{item}")
    text = await page.text()
    assert page.status == 200 and 'data-octas="4"' in text
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text  # autoescaped
    for path in ("/", "/gallery/sky", "/sky/sky", "/queues", "/uploads", "/telescope/slooh"):
        assert (await client.get(path)).status == 200, path


async def test_a_configured_tile_layer_is_drawn_under_the_map(res: Resources, tmp_path: Path,
                                                              aiohttp_client) -> None:
    from daemon.config.api import ApiSettings as Settings

    with pytest.raises(ValueError):
        Settings(map_tile_url="ftp://tiles/{z}/{x}/{y}.png")
    with pytest.raises(ValueError):
        Settings(map_tile_url="https://tiles.example/{z}/{x}.png")
    url = "https://tile.example.org/{z}/{x}/{y}.png"
    assert Settings(map_tile_url=url).map_tile_url == url
    app, _ctx = _app(res, tmp_path, tile_url=url)
    client = await aiohttp_client(app)
    text = await (await client.get("/map/iss")).text()
    assert text.count('<image href="https://tile.example.org/2/') == 16
    assert "img-src 'self' data: https://tile.example.org;" in (await client.get("/map/iss")).headers[
        "Content-Security-Policy"]
    assert 'href="https://tile.example.org/2/3/1.png" x="270.0" y="90.0"' in text
    offline_app, _ctx = _app(res, tmp_path)
    offline = await (await (await aiohttp_client(offline_app)).get("/map/iss")).text()
    assert "<image" not in offline and 'class="land "' in offline
