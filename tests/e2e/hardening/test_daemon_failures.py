"""Issue 11: the daemon's own failures are one clear line, and secrets never reach a log."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import skycam_config_text
from tests.procs import DaemonProcess


async def test_api_port_taken_is_one_startup_line_and_no_component_dies(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(skycam_config_text("http://127.0.0.1:9/").replace(
            'listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"'), encoding="utf-8")
        daemon = await DaemonProcess.start(config, tmp_path, {**os.environ, "PYTHONUNBUFFERED": "1"})
        assert await asyncio.wait_for(daemon.proc.wait(), 60) == 1
        await daemon._reader
    events = [e["event"] for e in daemon.events]
    assert "component_died" not in events, daemon.raw
    failed = [e for e in daemon.events if e["event"] == "startup_failed"]
    assert len(failed) == 1 and "address already in use" in failed[0]["reason"].lower()
    assert not [e for e in daemon.events if e.get("level") in ("critical", "error")
                and e["event"] != "startup_failed"], daemon.raw
    assert not any("Traceback" in line for line in daemon.raw)


LEAK = textwrap.dedent("""
    import structlog
    from daemon.logs import configure_logging, register_secret
    configure_logging("info", {fmt!r})
    register_secret("hunter2-very-secret")
    log = structlog.get_logger()

    def login(username, password):
        raise RuntimeError("login refused")

    try:
        login("alice", "hunter2-very-secret")
    except RuntimeError:
        log.exception("login_failed", source="scope")
    log.error("plain", detail="token hunter2-very-secret in a message")
""")


@pytest.mark.parametrize("fmt", ["console", "json", "logfmt", "journal"])
def test_secrets_never_printed_by_any_log_format(fmt):
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "200"}
    res = subprocess.run([sys.executable, "-c", LEAK.format(fmt=fmt)], capture_output=True, text=True,
                         timeout=60, env=env, check=True)
    assert "login refused" in res.stderr and "login_failed" in res.stderr
    assert "hunter2-very-secret" not in res.stderr


ACCEPT_FLOOD = textwrap.dedent("""
    import logging
    from daemon.logs import configure_logging
    configure_logging("info", "logfmt")
    log = logging.getLogger("asyncio")
    for _ in range(5000):
        log.error("socket.accept() out of system resource", exc_info=OSError(24, "Too many open files"))
    log.error("something else")
""")


def test_accept_errors_under_descriptor_exhaustion_are_rate_limited():
    res = subprocess.run([sys.executable, "-c", ACCEPT_FLOOD], capture_output=True, text=True, timeout=60,
                         check=True)
    lines = res.stderr.splitlines()
    assert 1 <= sum("accept" in line for line in lines) <= 2, len(lines)
    assert any("something else" in line for line in lines)
