"""``harvestd run`` with a slooh source, against the imitation: the production path (aria2c)."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.integration.downloads.aria2_harness import require_aria2c
from tests.integration.sources.slooh_harness import PASSWORD, USER, library_files, rows, slooh_config
from tests.procs import DaemonProcess


async def test_the_daemon_mirrors_the_account_and_logs_failures_by_item(slooh, tmp_path):
    require_aria2c()
    site, base = slooh
    roll = site.photo_roll()
    site.files.unavailable[roll[0]["path"]] = 1  # one 503: retried, then fine
    fits = site.missions[1].fits[0]["path"]
    site.files.files[fits] = site.files.files[fits][:4000]  # a truncated FITS: not 2880-byte blocks
    cfg = slooh_config(tmp_path, base, "run_on_start = true", backend="aria2")
    env = {**os.environ, "SLOOH_USERNAME": USER, "SLOOH_PASSWORD": PASSWORD}
    daemon = await DaemonProcess.start(tmp_path / "config.toml", tmp_path, env)
    try:
        enq = await daemon.wait_for(lambda e: e["event"] == "harvest_enqueued", timeout_s=60)
        assert (enq["source"], enq["total"], enq["new"]) == ("slooh", 80, 80)
        bad = await daemon.wait_for(lambda e: e["event"] == "download_failed", timeout_s=60)
        assert bad["error_code"] == "corrupt" and "truncated FITS file: 4000 bytes" in bad["error"]
        assert bad["key"].endswith(":fits") and bad["source"] == "slooh"

        await daemon.wait_count("downloaded", 79, timeout_s=60)
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
    log = "\n".join(daemon.raw)
    assert PASSWORD not in log and USER not in log
    assert [e["logins"] for e in daemon.events if e["event"] == "slooh_logged_in"] == [1]
    statuses = {r["key"]: (r["status"], r["attempts"]) for r in rows(cfg.db_path, "SELECT * FROM items")}
    assert statuses[f"{roll[0]['imageId']}:png"][0] == "processed"
    assert site.files.requests[roll[0]["path"]] == 2  # the 503, then success (aria2c's own retry)
    assert sum(1 for s, _ in statuses.values() if s == "processed") == 79
    files = library_files(cfg.library.root)
    assert len(files) == 79 and not any(fits.rsplit("/", 1)[1] in f for f in files)


async def test_a_refused_login_is_one_error_line_and_the_daemon_keeps_running(slooh, tmp_path):
    site, base = slooh
    slooh_config(tmp_path, base, "run_on_start = true")
    env = {**os.environ, "SLOOH_USERNAME": USER, "SLOOH_PASSWORD": "not-the-password"}
    daemon = await DaemonProcess.start(tmp_path / "config.toml", tmp_path, env)
    try:
        failed = await daemon.wait_for(lambda e: e["event"] == "harvest_failed", timeout_s=60)
        assert failed["level"] == "error" and failed["source"] == "slooh"
        assert failed["error"] == "login refused: Invalid username or password. (errorCode 5, statusCode 200)"
        assert "exception" not in failed  # a remote's refusal is not a crash: no traceback
        await asyncio.sleep(0.5)
        assert daemon.proc.returncode is None  # still running; the next scheduled run tries again
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
    assert "not-the-password" not in "\n".join(daemon.raw) and USER not in "\n".join(daemon.raw)
    assert site.logins == 0 and site.calls["login"] == 1
