"""SIGHUP: every reloadable setting reaches the component that uses it (issue 12: each
component owns its reconfigure(); the runtime only calls them)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys

import aiohttp
from PIL import Image

from tests.conftest import skycam_config_text
from tests.procs import DaemonProcess


def _jpeg(side_px: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((side_px, side_px), 80).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


async def _upload(url: str, data: bytes) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="shot.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as resp:
        return resp.status, await resp.text()


async def test_a_reloaded_uploads_table_applies_to_the_next_upload(skycam, tmp_path):
    _site, base = skycam
    config = tmp_path / "config.toml"
    text = skycam_config_text(base, run_on_start="false")
    config.write_text(text + "\n[uploads]\nmax_bytes = 4000000\nprocessors = []\n", encoding="utf-8")
    image = _jpeg(200)
    assert 10_000 < len(image) < 4_000_000
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "json",
        cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    daemon = DaemonProcess(proc)
    try:
        api = await daemon.wait_for(lambda e: e["event"] == "api_listening")
        url = api["url"].replace("/api/health", "/api/uploads")
        status, body = await _upload(url, image)
        assert status == 202, body
        mark = len(daemon.events)
        config.write_text(text + "\n[uploads]\nmax_bytes = 2000\nprocessors = []\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        reloaded = await daemon.wait_for(lambda e: e["event"] == "config_reloaded", start=mark)
        assert reloaded["changed"] == ["uploads"]
        status, body = await _upload(url, image)
        assert status == 413 and "larger than" in body, body
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
