"""Logs (journald priority prefix, one line per event) and the sd_notify protocol."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

from daemon import notify

SCRIPT = textwrap.dedent("""
    import logging, structlog
    from daemon.logs import configure_logging
    print(configure_logging("info", "auto"), flush=True)
    log = structlog.get_logger()
    log.warning("slot_missing", source="sky", key="2025-01-01T00:02")
    log.debug("hidden")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("boom", source="sky", key="k")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
""")


def test_journal_lines_carry_priority_and_tracebacks_stay_one_record(tmp_path):
    err_path = tmp_path / "stderr"
    with err_path.open("wb") as err:
        st = os.fstat(err.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        out = subprocess.run([sys.executable, "-c", SCRIPT], stderr=err, capture_output=False,
                             stdout=subprocess.PIPE, env=env, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "journal"
    lines = err_path.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("<4>event=slot_missing source=sky key=2025-01-01T00:02 ")
    assert lines[1].startswith("<3>event=boom source=sky key=k ") and "ZeroDivisionError" in lines[1]
    assert lines[2].startswith('<4>event="Run time of job was missed"') and "logger=apscheduler" in lines[2]


def test_without_journal_stream_it_is_plain_logfmt(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, env=env, text=True,
                         timeout=60, check=True)
    assert res.stdout.strip() == "logfmt"
    assert res.stderr.splitlines()[0].startswith("event=slot_missing source=sky")


def test_sd_notify_abstract_and_path_sockets(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.sd_notify("READY=1") is False  # not under systemd: a no-op
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        name = f"harvestd-test-{os.getpid()}"
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.ready("2 sources")
        assert sock.recv(1024).decode() == "READY=1\nSTATUS=2 sources"
        assert notify.reloading()
        msg = sock.recv(1024).decode().splitlines()
        assert msg[0] == "RELOADING=1" and msg[1].startswith("MONOTONIC_USEC=") and int(msg[1][15:]) > 0


def test_watchdog_interval_and_child_environment(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/x")
    assert notify.watchdog_interval_s() == 15.0
    env = notify.child_environment()
    assert not {"WATCHDOG_USEC", "WATCHDOG_PID", "NOTIFY_SOCKET"} & set(env)
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert notify.watchdog_interval_s() is None


REDACT = textwrap.dedent("""
    import logging, structlog
    from daemon.logs import configure_logging, register_secret
    configure_logging("info", "logfmt")
    register_secret("s3cr3t-API-key")
    log = structlog.get_logger()
    log.info("http_retry", url="https://eol.example/api.pl?query=x&key=s3cr3t-API-key", status=503)
    try:
        raise ValueError("bad answer for key=s3cr3t-API-key")
    except ValueError:
        log.exception("api_failed")
    logging.getLogger("aiohttp.client").warning("GET /api.pl?key=s3cr3t-API-key failed")
""")


def test_registered_secrets_never_reach_a_log_line():
    res = subprocess.run([sys.executable, "-c", REDACT], capture_output=True, text=True, timeout=60,
                         check=True)
    assert "s3cr3t-API-key" not in res.stderr
    assert res.stderr.count("***") == 3, res.stderr  # the URL, the traceback, the stdlib line
