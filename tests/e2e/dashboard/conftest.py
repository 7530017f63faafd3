"""A daemon that harvested real images from the imitation sky camera (day and night frames)
and the imitation NASA site, plus a source that fails, for the dashboard's browser tests
(Playwright driving Debian's Chromium, ``/usr/bin/chromium``)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.nasa_eol_server import EolSite, reference_photos
from tests.fakes.skycam_server import SkycamSite, url_template
from tests.procs import serve_in_thread

CHROMIUM = os.environ.get("HARVESTD_CHROMIUM", "/usr/bin/chromium")
KEY = "dashboard-test-key"
LOOKBACK_S = 6 * 3600
SHOTS = Path(os.environ.get("HARVESTD_SCREENSHOTS", Path(__file__).parent / "screenshots"))


def evening_longitude(now: datetime) -> float:
    """A longitude where local solar time is now 21:00: the last six hours of frames run
    from mid-afternoon (octas) to after dusk (night, no octas)."""
    degrees = (21 - (now.hour + now.minute / 60)) * 15
    return round((degrees + 180) % 360 - 180, 2)


def config_text(sky_url: str, nasa_url: str, token: str | None = None) -> str:
    api = f'token = "{token}"\n' if token else ""
    return f"""data_dir = "data"
[daemon]
shutdown_timeout_s = 10
[api]
listen = "127.0.0.1:0"
{api}
[downloads]
backend = "builtin"
poll_interval_s = 0.3
retry_backoff_s = 0.2
max_attempts = 2
[http]
backoff_initial_s = 0.01
backoff_max_s = 0.05
max_attempts = 2
[worker]
poll_interval_s = 0.3
[processors.octas]
threshold = 0.6
[sources.sky]
kind = "skycam"
url_template = "{url_template(sky_url)}"
minutes = [2, 12, 22, 32, 42, 52]
timezone = "America/Argentina/Cordoba"
schedule = "*/10 * * * *"
lookback_s = {LOOKBACK_S}
run_on_start = true
latitude = 0.0
longitude = {evening_longitude(datetime.now(UTC))}
processors = ["octas"]
[sources.broken]
kind = "skycam"
url_template = "{sky_url}/no/such/camera/{{t:%Y%m%d%H%M}}.jpg"
minutes = [2, 12, 22, 32, 42, 52]
schedule = "*/10 * * * *"
lookback_s = 3600
run_on_start = true
latitude = 0.0
longitude = 0.0
[sources.iss]
kind = "nasa_iss"
api_key = "{KEY}"
base_url = "{nasa_url}"
run_on_start = true
lookback_days = 14
requests_per_minute = 600
"""


def recent_photos() -> list[Any]:
    today = datetime.now(UTC).date()
    photos = [p for p in reference_photos() if p.frames]
    return [dataclasses.replace(p, frames={**p.frames, "pdate": f"{today - timedelta(days=1 + 2 * i):%Y%m%d}"})
            for i, p in enumerate(photos)]


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@dataclass
class Dashboard:
    """The running daemon: base URL, config, database, and how to restart it."""

    folder: Path
    config: Path
    db: Path
    sky_url: str
    nasa_url: str
    proc: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(self.config), "--log-format", "json"],
            cwd=self.folder, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stderr is not None
        log = (self.folder / "daemon.log").open("a", encoding="utf-8", buffering=1)  # line by line
        self.url = ""
        for line in self.proc.stderr:
            log.write(line)
            if line.startswith("{") and json.loads(line).get("event") == "api_listening":
                self.url = json.loads(line)["url"].rsplit("/api/health", 1)[0]
                break
        assert self.url, "the daemon did not start its API"
        stream = self.proc.stderr

        def copy() -> None:
            for rest in stream:
                log.write(rest)

        threading.Thread(target=copy, daemon=True).start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    def restart(self, config_text: str | None = None) -> None:
        self.stop()
        if config_text is not None:
            self.config.write_text(config_text, encoding="utf-8")
        self.start()

    def log_events(self) -> list[dict[str, Any]]:
        lines = (self.folder / "daemon.log").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    folder = tmp_path_factory.mktemp("dashboard")
    sky = SkycamSite()
    nasa = EolSite(recent_photos(), api_keys={KEY})
    sky_url, nasa_url = serve_in_thread(sky.app()), serve_in_thread(nasa.app())
    config = folder / "config.toml"
    config.write_text(config_text(sky_url, nasa_url), encoding="utf-8")
    dash = Dashboard(folder, config, folder / "data" / "harvest.db", sky_url, nasa_url)
    dash.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = query(dash.db, "SELECT source, COUNT(*), SUM(status IN ('processed', 'failed')) FROM items"
                              " GROUP BY source") if dash.db.exists() else []
        done = {r[0]: (r[1], r[2]) for r in rows}
        settled = all(s in done and done[s][0] == done[s][1] for s in ("sky", "broken", "iss"))
        if settled and done["sky"][0] >= 30:
            break
        time.sleep(0.5)
    else:
        dash.stop()
        raise AssertionError(f"the daemon did not harvest in time: {rows}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield dash
    finally:
        dash.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            yield chromium
        finally:
            chromium.close()
