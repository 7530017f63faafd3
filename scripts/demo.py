"""``make demo``: harvestd on this machine, offline, in under a minute.

Starts the bundled imitations of the observatory sky camera and of NASA's ISS photo site
(``tests/fakes``, on 127.0.0.1 ports chosen by the system), writes a demo config into
``demo/`` (``demo/data`` holds the database and the library), runs the daemon on it until
the last six hours of camera images and the recent ISS photos are harvested and the sky
images classified in octas, stops it with SIGTERM as systemd would, and prints
``harvestd status`` and where the files are. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from tests.fakes.nasa_eol_server import EolSite, reference_photos  # noqa: E402
from tests.fakes.skycam_server import SkycamSite, url_template  # noqa: E402

DEMO_KEY = "demo-key-for-the-imitation"
LOOKBACK_S = 6 * 3600


def recent_photos() -> list:  # type: ignore[type-arg]
    """The reference's catalogued ISS photos, re-dated to the last days (a scheduled run
    looks back ``lookback_days``)."""
    today = datetime.now(UTC).date()
    photos = [p for p in reference_photos() if p.frames]
    return [dataclasses.replace(p, frames={**p.frames, "pdate": f"{today - timedelta(days=1 + 2 * i):%Y%m%d}"})
            for i, p in enumerate(photos)]


def daytime_longitude(now: datetime) -> float:
    """A longitude where local solar noon was 3 hours ago: the last six hours of imitation
    frames are all daytime there, so they get octas instead of ``night``."""
    degrees = (12 - (now.hour + now.minute / 60 - 3)) * 15  # local solar time = UTC + longitude / 15°
    return round((degrees + 180) % 360 - 180, 2)


def demo_config(sky_url: str, nasa_url: str) -> str:
    return f"""# written by scripts/demo.py (make demo): the daemon against local imitations
data_dir = "data"

[daemon]
log_level = "info"
shutdown_timeout_s = 10

[api]
listen = "127.0.0.1:0"

[downloads]
backend = "auto"
poll_interval_s = 0.5

[worker]
poll_interval_s = 0.5

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
longitude = {daytime_longitude(datetime.now(UTC))}   # where it is day now: octas, not "night"
processors = ["octas"]

[sources.iss]
kind = "nasa_iss"
api_key = "${{DEMO_NASA_KEY}}"
base_url = "{nasa_url}"
run_on_start = true
lookback_days = 14
requests_per_minute = 600
"""


def counts(db: Path) -> tuple[int, int, int]:
    """(items, items settled: processed or failed, octas results completed)."""
    if not db.exists():
        return 0, 0, 0
    conn = sqlite3.connect(db, timeout=5)
    try:
        items = conn.execute("SELECT COUNT(*), SUM(status IN ('processed', 'failed')) FROM items").fetchone()
        octas = conn.execute("SELECT COUNT(*) FROM results WHERE processor = 'octas' AND status = 'completed'")
        return int(items[0]), int(items[1] or 0), int(octas.fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0, 0, 0
    finally:
        conn.close()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def echo(stream: asyncio.StreamReader, found: dict[str, str]) -> None:
    """Copy the daemon's log lines to this terminal; remember the API's address."""
    while line := await stream.readline():
        text = line.decode(errors="replace")
        sys.stderr.write(text)
        if m := re.search(r"url=(http://\S+/api/health)", text):
            found["health"] = m.group(1)


async def demo(folder: Path, seconds: float) -> int:
    """Run the demo in ``folder`` (emptied first); 0 when everything was harvested in time."""

    sky = SkycamSite(latency_s=0.05)
    nasa = EolSite(recent_photos(), api_keys={DEMO_KEY})
    nasa.latency_s = 0.05
    sky_runner, sky_url = await serve(sky.app())
    nasa_runner, nasa_url = await serve(nasa.app())
    config = folder / "config.toml"
    config.write_text(demo_config(sky_url, nasa_url), encoding="utf-8")
    print(f"demo: imitation sky camera at {sky_url}, imitation NASA site at {nasa_url}", flush=True)
    print(f"demo: harvestd run --config {config.relative_to(ROOT) if config.is_relative_to(ROOT) else config}",
          flush=True)

    env = {**os.environ, "DEMO_NASA_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "console",
        cwd=folder, env=env, stderr=asyncio.subprocess.PIPE)
    assert daemon.stderr is not None
    found: dict[str, str] = {}
    logs = asyncio.create_task(echo(daemon.stderr, found))
    db = folder / "data" / "harvest.db"
    started = time.monotonic()
    want_sky = LOOKBACK_S // 600  # six slots an hour
    done = False
    try:
        while time.monotonic() - started < seconds and daemon.returncode is None:
            items, settled, octas = await asyncio.to_thread(counts, db)
            if items >= want_sky and settled == items and octas >= want_sky - 1:
                done = True
                break
            await asyncio.sleep(0.5)
    finally:
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(daemon.wait(), 60)
        await logs
        await sky_runner.cleanup()
        await nasa_runner.cleanup()
    took = time.monotonic() - started
    items, settled, octas = await asyncio.to_thread(counts, db)
    print(f"\ndemo: {items} items harvested, {settled} settled, {octas} sky images classified in octas "
          f"in {took:.0f} s; the daemon stopped with exit status {status}\n", flush=True)
    report = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "status", "--config", str(config), "--log-level", "warning",
        cwd=folder, env=env)
    await report.wait()
    library = folder / "data" / "library"
    files = await asyncio.to_thread(library_files, library)
    print(f"\ndemo: {len(files)} files under {library}, e.g.", flush=True)
    for path in files[:: max(1, len(files) // 6)][:6]:
        print(f"  {path.relative_to(library)}", flush=True)
    print("\ndemo: run it again with `make demo`; the real camera with `make run`.", flush=True)
    return 0 if done and status == 0 else 1


def library_files(library: Path) -> list[Path]:
    return sorted(p for p in library.rglob("*") if p.is_file() and ".partial" not in p.parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ROOT / "demo", help="where the demo lives (demo/)")
    parser.add_argument("--seconds", type=float, default=90, help="stop after this long at most (90)")
    args = parser.parse_args()
    folder: Path = args.dir.resolve()
    shutil.rmtree(folder, ignore_errors=True)  # every demo starts empty
    folder.mkdir(parents=True)
    return asyncio.run(demo(folder, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
