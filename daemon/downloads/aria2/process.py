"""The aria2c child process: configuration, start, graceful stop, stale-process cleanup.

aria2c listens for JSON-RPC on 127.0.0.1 only (``rpc-listen-all=false``) on a free port
picked per start, with a random secret per start. Every option, the secret included, goes
into a 0600 ``--conf-path`` file: the command line (visible to every user in ``/proc``)
carries only the path. ``--input-file`` and ``--save-session`` name the same session file
so unfinished downloads survive an aria2c restart; ``.aria2`` control files (refreshed every
``auto_save_interval_s``) let partial data resume. aria2c treats SIGTERM and SIGHUP as an
*emergency* halt, so it is stopped over RPC (``aria2.saveSession``, ``aria2.shutdown``),
then ``aria2.forceShutdown``, and SIGKILL only as the last resort. Its environment drops
``NOTIFY_SOCKET`` and the watchdog variables (systemd must only hear from the daemon), and
``stop-with-process`` makes it exit by itself if the daemon dies without stopping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
from collections import deque
from pathlib import Path

import structlog

from daemon import notify
from daemon.config.settings import Aria2Settings
from daemon.errors import DownloadError

log = structlog.get_logger("daemon.downloads.aria2")


class Aria2Missing(DownloadError, RuntimeError):
    """``downloads.backend = "aria2"`` but no aria2c binary can be found."""


def find_aria2c(binary: str) -> str | None:
    """The absolute path of ``binary`` (a name on ``$PATH`` or a path), or None."""
    return shutil.which(binary)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aria2_options(settings: Aria2Settings, *, port: int, secret: str, session: Path, staging: Path,
                  user_agent: str, daemon_pid: int) -> dict[str, str]:
    """The aria2c option set (aria2c(1) "Options"): every value a string, as aria2 wants."""
    s = settings
    return {
        "enable-rpc": "true",
        "rpc-listen-all": "false",
        "rpc-listen-port": str(port),
        "rpc-secret": secret,
        "rpc-max-request-size": "16M",
        "input-file": str(session),
        "save-session": str(session),
        "save-session-interval": str(s.save_session_interval_s),
        "auto-save-interval": str(s.auto_save_interval_s),
        "force-save": "false",
        "keep-unfinished-download-result": "true",
        "max-download-result": "5000",
        "continue": "true",
        "auto-file-renaming": "false",
        "allow-overwrite": "false",
        "remote-time": "true",
        "dir": str(staging),
        "max-concurrent-downloads": str(s.max_concurrent_downloads),
        "split": str(s.split),
        "max-connection-per-server": str(s.max_connection_per_server),
        "min-split-size": f"{s.min_split_size_mib}M",
        "max-overall-download-limit": str(s.max_overall_download_bytes_per_s),
        "max-download-limit": str(s.max_download_bytes_per_s),
        "file-allocation": s.file_allocation,
        "disk-cache": f"{s.disk_cache_mib}M",
        "max-tries": str(s.max_tries),
        "retry-wait": str(s.retry_wait_s),
        "timeout": str(s.timeout_s),
        "connect-timeout": str(s.connect_timeout_s),
        "user-agent": user_agent,
        "stop-with-process": str(daemon_pid),
        "console-log-level": "warn",
        "show-console-readout": "false",
        "summary-interval": "0",
        "download-result": "hide",
        "enable-dht": "false",
        "bt-enable-lpd": "false",
        # a host must not choose what aria2c fetches next, nor where it writes (issue 11)
        "follow-torrent": "false",
        "follow-metalink": "false",
    }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, 0o600)  # an older file may have had wider permissions
        fh.write(text)


def _stale_pid(pidfile: Path, conf: Path) -> int | None:
    """The pid in ``pidfile`` if it is still an aria2c started with ``conf``."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    wanted = f"--conf-path={conf}".encode()
    return pid if wanted in cmdline else None


class Aria2Process:
    """One aria2c child: ``await start()``, then ``port`` and ``secret``; ``kill()``, ``wait()``.

    The graceful stop over RPC is the supervisor's (:mod:`daemon.downloads.aria2.supervisor`).
    """

    def __init__(self, settings: Aria2Settings, *, binary: str, name: str, state_dir: Path,
                 runtime_dir: Path, staging: Path, user_agent: str) -> None:
        """``binary``: the resolved aria2c path (:func:`find_aria2c`)."""
        self.binary = binary
        self.settings = settings
        self.name = name
        self.session = state_dir / f"{name}.session"
        self.conf = runtime_dir / f"{name}.conf"
        self.pidfile = runtime_dir / f"{name}.pid"
        self.staging = staging
        self.user_agent = user_agent
        self.port = 0
        self.secret = ""
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True while the child has not exited."""
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start aria2c (after stopping a stale one left by a killed daemon).

        Raises:
            OSError: the binary cannot be executed or the state folders are not writable.
        """
        await self._stop_stale()
        self.port = free_port()
        self.secret = secrets.token_hex(24)
        options = aria2_options(self.settings, port=self.port, secret=self.secret, session=self.session,
                                staging=self.staging, user_agent=self.user_agent, daemon_pid=os.getpid())
        text = "".join(f"{k}={v}\n" for k, v in options.items())

        def prepare() -> None:
            self.staging.mkdir(parents=True, exist_ok=True)
            self.session.parent.mkdir(parents=True, exist_ok=True)
            self.session.touch(exist_ok=True)  # --input-file must exist
            _write_private(self.conf, text)

        await asyncio.to_thread(prepare)
        self.stderr_tail.clear()
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, f"--conf-path={self.conf}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=notify.child_environment(), start_new_session=True,
        )
        await asyncio.to_thread(self.pidfile.write_text, f"{self.proc.pid}\n")
        self._stderr_task = asyncio.create_task(self._pump_stderr(self.proc))
        log.info("aria2_started", pid=self.proc.pid, port=self.port, binary=self.binary,
                 session=str(self.session))

    async def _pump_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            if line:
                self.stderr_tail.append(line)
                if "ERROR" in line or "WARN" in line or "Exception" in line:
                    log.info("aria2_console", line=line[:500])

    async def wait(self) -> int:
        """Wait for the child to exit; returns its exit status (aria2 error code)."""
        assert self.proc is not None
        code = await self.proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return code

    async def kill(self) -> None:
        """SIGKILL the child (it stopped answering) and reap it."""
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.wait()

    async def wait_exit(self, timeout_s: float) -> bool:
        """True when the child exits within ``timeout_s`` seconds."""
        if not self.running:
            return True
        try:
            await asyncio.wait_for(self.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _stop_stale(self) -> None:
        pid = await asyncio.to_thread(_stale_pid, self.pidfile, self.conf)
        if pid is None:
            return
        log.warning("aria2_stale_process_stopping", pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # SIGINT = graceful halt: the session is saved
        for _ in range(50):
            await asyncio.sleep(0.1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
