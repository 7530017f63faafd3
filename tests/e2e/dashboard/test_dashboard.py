"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a daemon
that harvested the imitation sky camera and NASA site: every page loads cleanly, shows what
the store holds, and its controls work — and refuse what they must."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from tests.e2e.dashboard.conftest import SHOTS, Dashboard, config_text, query
from tests.procs import serve_in_thread

pytestmark = pytest.mark.e2e
TOKEN = "dashboard-token-0123456789"


class Watched:
    """A page whose console errors, failed requests and 4xx/5xx answers are collected."""

    def __init__(self, browser: Any, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)

    def open(self, path: str, shot: str | None = None) -> Any:
        self.page.goto(self.base + path, wait_until="networkidle")
        if shot:
            self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=False)
        return self.page


def test_every_page_loads_without_console_errors_or_failed_requests(dashboard: Dashboard, browser: Any) -> None:
    sky_item = query(dashboard.db, "SELECT MAX(i.id) FROM items i JOIN results r ON r.item_id = i.id"
                                   " WHERE i.source = 'sky' AND r.octas IS NOT NULL")[0][0]
    iss_item = query(dashboard.db, "SELECT MIN(id) FROM items WHERE source = 'iss'"
                                   " AND json_extract(metadata, '$.kind') = 'iss_photo'")[0][0]
    watched = Watched(browser, dashboard.url)
    pages = {"/": "overview", "/gallery/sky": "gallery", f"/items/{sky_item}": "item", "/sky/sky": "sky",
             "/sky/sky?range=week": None, "/map/iss": "map", "/map/iss?nadir=1": None,
             f"/items/{iss_item}": None,
             "/gallery/iss": None, "/gallery/broken?status=failed": None, "/uploads": "uploads",
             "/queues": "queues"}
    for path, shot in pages.items():
        page = watched.open(path, shot)
        assert page.title().endswith("harvestd"), path
    assert watched.problems == [], "\n".join(watched.problems)
    # phone-sized too: the overview's cards stack, nothing overflows sideways
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(dashboard.url + "/", wait_until="networkidle")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.screenshot(path=str(SHOTS / "overview-phone.png"))
    phone.close()
    watched.page.close()


def test_the_overview_shows_the_store_counts_and_why_a_source_fails(dashboard: Dashboard, browser: Any) -> None:
    page = Watched(browser, dashboard.url).open("/")
    for source, status, n in query(dashboard.db, "SELECT source, status, COUNT(*) FROM items GROUP BY 1, 2"):
        cell = page.locator(f'[data-source="{source}"] [data-status="{status}"]')
        assert cell.inner_text() == str(n), (source, status)
    broken = page.locator('[data-source="broken"]')
    assert broken.locator('[data-field="state"]').inner_text() == "failing"
    assert "bad" in (broken.get_attribute("class") or "")
    said = broken.inner_text()
    assert "not_found" in said and "404" in said, said  # the error code and the server's answer
    status = json.loads(page.evaluate("fetch('/api/overview').then(r => r.text())"))
    assert {s["name"]: s["items"] for s in status["sources"]} == {
        src: dict(query(dashboard.db, "SELECT status, COUNT(*) FROM items WHERE source = ? GROUP BY 1", (src,)))
        for src in ("broken", "iss", "sky")}
    page.close()


def test_gallery_thumbnails_load_and_the_item_page_shows_image_and_octas(dashboard: Dashboard,
                                                                         browser: Any) -> None:
    page = Watched(browser, dashboard.url).open("/gallery/sky")
    images = page.locator("ul.gallery img")
    assert images.count() >= 30
    widths = page.evaluate("Array.from(document.querySelectorAll('ul.gallery img')).map(i => i.naturalWidth)")
    assert all(0 < w <= 320 for w in widths), widths
    item_id, octas = query(dashboard.db, "SELECT i.id, r.octas FROM items i JOIN results r ON r.item_id = i.id"
                                         " WHERE i.source = 'sky' AND r.octas IS NOT NULL LIMIT 1")[0]
    page.goto(f"{dashboard.url}/items/{item_id}", wait_until="networkidle")
    assert page.evaluate("document.getElementById('original').naturalWidth") == 640
    assert page.locator("[data-octas]").get_attribute("data-octas") == str(octas)
    page.close()


def test_the_sky_chart_has_one_point_per_scored_image_and_none_at_night(dashboard: Dashboard,
                                                                        browser: Any) -> None:
    page = Watched(browser, dashboard.url).open("/sky/sky")
    chart = page.locator("#sky-chart")
    chart.locator("canvas").first.wait_for()
    assert chart.get_attribute("data-rendered") == "yes"
    data = json.loads(page.locator("#sky-data").inner_text())
    day = query(dashboard.db, "SELECT i.captured_at FROM items i JOIN results r ON r.item_id = i.id"
                              " WHERE i.source = 'sky' AND json_extract(r.output, '$.condition') = 'day'"
                              " ORDER BY 1")
    night = {r[0] for r in query(dashboard.db, "SELECT i.captured_at FROM items i JOIN results r"
                                               " ON r.item_id = i.id WHERE i.source = 'sky'"
                                               " AND json_extract(r.output, '$.condition') = 'night'")}
    assert night, "the fixture's window should reach past dusk"
    assert [p["t"] for p in data["points"]] == [r[0] for r in day]
    assert not {p["t"] for p in data["points"]} & night
    assert data["nights"] and int(chart.get_attribute("data-points")) == len(day)
    csv = page.evaluate("fetch('/api/sky/sky?format=csv').then(r => r.text())")
    assert len(csv.strip().splitlines()) == len(day) + 1
    page.close()


def test_the_iss_map_has_one_marker_per_photo_with_its_coordinates(dashboard: Dashboard, browser: Any) -> None:
    page = Watched(browser, dashboard.url).open("/map/iss")
    markers = page.evaluate("Array.from(document.querySelectorAll('svg.map a.photo circle')).map(c => "
                            "[c.dataset.id, +c.dataset.lat, +c.dataset.lon, +c.getAttribute('cx'), "
                            "+c.getAttribute('cy')])")
    photos = query(dashboard.db, "SELECT nasa_id, lat, lon FROM iss_photos WHERE source = 'iss'"
                                 " AND lat IS NOT NULL")
    assert photos and sorted(m[0] for m in markers) == sorted(p[0] for p in photos)
    by_id = {p[0]: p for p in photos}
    for nasa_id, lat, lon, cx, cy in markers:
        assert (lat, lon) == (by_id[nasa_id][1], by_id[nasa_id][2])
        phi = math.radians(lat)  # Web Mercator, a 360 × 360 view box
        expected_y = (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * 360
        assert (cx, cy) == (pytest.approx(lon + 180, abs=1e-3), pytest.approx(expected_y, abs=1e-3))
    page.locator("svg.map a.photo").last.click()  # the top-most of overlapping markers
    page.wait_for_url("**/items/*")
    page.close()


def test_pausing_a_source_sticks_across_a_restart_and_a_token_guards_the_click(dashboard: Dashboard,
                                                                               browser: Any) -> None:
    page = Watched(browser, dashboard.url).open("/")
    page.locator('[data-source="sky"] button', has_text="pause schedule").click()
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-source="sky"] .badge.paused').count() == 1
    assert query(dashboard.db, "SELECT scope FROM controls") == [("source:sky",)]
    runs_before = query(dashboard.db, "SELECT source, COUNT(*) FROM runs GROUP BY 1")
    # restart with a token: run_on_start runs every source but the paused one
    dashboard.restart(config_text(dashboard.sky_url, dashboard.nasa_url, token=TOKEN))
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(e.get("event") == "source_run_skipped"
                                                  for e in dashboard.log_events()):
        time.sleep(0.2)
    skipped = [e for e in dashboard.log_events() if e.get("event") == "source_run_skipped"]
    assert [e["source"] for e in skipped] == ["sky"]
    runs_after = dict(query(dashboard.db, "SELECT source, COUNT(*) FROM runs GROUP BY 1"))
    assert runs_after["sky"] == dict(runs_before)["sky"]
    page = Watched(browser, dashboard.url).open("/")
    assert page.locator('[data-source="sky"] .badge.paused').count() == 1  # survived the restart
    # the same click without the token is refused
    form = page.locator('[data-source="sky"] form')
    form.locator("input[name=api_token]").evaluate("el => { el.required = false; el.value = ''; }")
    with page.expect_response(lambda r: "/ui/sources/sky/resume" in r.url) as answer:
        form.locator("button").click()
    assert answer.value.status == 401
    assert query(dashboard.db, "SELECT scope FROM controls") == [("source:sky",)]
    # with the token typed once at the top of the page, it goes through
    page.goto(dashboard.url + "/")
    page.fill("#api-token", TOKEN)
    page.locator("#api-token").dispatch_event("change")
    page.locator('[data-source="sky"] button', has_text="resume schedule").click()
    page.wait_for_load_state("networkidle")
    assert query(dashboard.db, "SELECT scope FROM controls") == []
    page.close()


def test_a_form_posted_from_another_origin_is_refused(dashboard: Dashboard, browser: Any) -> None:
    from aiohttp import web

    evil = web.Application()
    html = (f'<form id="f" method="post" action="{dashboard.url}/ui/downloads/pause">'
            '<input name="csrf" value="guessed"><input name="api_token" value="guessed"></form>'
            '<script>document.getElementById("f").submit()</script>')
    async def form_page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    evil.router.add_get("/", form_page)
    evil_url = serve_in_thread(evil)
    page = browser.new_page()
    with page.expect_response(lambda r: "/ui/downloads/pause" in r.url) as answer:
        page.goto(evil_url + "/")
    assert answer.value.status == 403
    assert query(dashboard.db, "SELECT scope FROM controls WHERE scope = 'downloads'") == []
    page.close()


def test_an_upload_by_the_page_is_processed_and_its_preview_shown(dashboard: Dashboard, browser: Any,
                                                                   tmp_path: Any) -> None:
    import time

    import numpy as np
    from PIL import Image

    picture = tmp_path / "field.png"
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(picture)
    page = Watched(browser, dashboard.url).open("/uploads")
    if page.locator("#api-token").count():  # an earlier test configured a token
        page.fill("#api-token", TOKEN)
        page.locator("#api-token").dispatch_event("change")
    page.set_input_files("#upload input[type=file]", str(picture))
    page.locator("#upload button").click()
    from playwright.sync_api import expect  # (no wait_for_function: the page's CSP forbids eval)

    expect(page.locator("#upload-result")).to_have_text(re.compile(r"^received"), timeout=20_000)
    item_id = int(page.locator("#upload-result").inner_text().split("item ")[1].split(" ")[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and query(dashboard.db, "SELECT status FROM items WHERE id = ?",
                                                   (item_id,))[0][0] != "processed":
        time.sleep(0.2)
    page.goto(f"{dashboard.url}/items/{item_id}", wait_until="networkidle")
    preview = page.locator("img.preview")
    assert preview.count() == 1 and preview.evaluate("img => img.naturalWidth") == 160
    assert "VARI" in page.inner_text("main")
    page.close()
