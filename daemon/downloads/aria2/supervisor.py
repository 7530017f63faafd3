"""Keeps one aria2c alive and connected: start, connect, watch, restart with backoff, stop.

The supervisor owns the :class:`Aria2Process` and the :class:`Aria2Rpc` socket. While
connected it calls the controller's ``reconcile(rpc, full)`` whenever a notification
arrives (a hint) and every ``reconcile_interval_s`` (a full pass: the truth). If aria2c
exits, the socket closes or a call times out, aria2c is killed and started again after
1, 2, 4… seconds (capped at ``restart_backoff_max_s``); the first full reconcile after a
start re-adds every unfinished download, which resumes from its ``.aria2`` control file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiohttp
import structlog

from daemon.aio import wait_any
from daemon.config.settings import Aria2Settings
from daemon.downloads.aria2.process import Aria2Process, aria2_options
from daemon.downloads.aria2.rpc import Aria2Error, Aria2Rpc, Aria2Unavailable

log = structlog.get_logger("daemon.downloads.aria2")
HINTS = frozenset({"aria2.onDownloadComplete", "aria2.onDownloadError", "aria2.onDownloadStop",
                   "aria2.onBtDownloadComplete"})
CONNECT_TIMEOUT_S = 15.0
COALESCE_S = 0.02
# options aria2.changeGlobalOption accepts at run time (aria2c(1) "aria2.changeGlobalOption")
LIVE_OPTIONS = ("max-concurrent-downloads", "max-overall-download-limit", "max-download-limit",
                "split", "max-connection-per-server", "min-split-size", "max-tries", "retry-wait",
                "timeout", "connect-timeout")


class Aria2Supervisor:
    """Run with ``await supervisor.run(stop)``; ``ready`` is set while aria2c answers."""

    def __init__(self, process: Aria2Process, session: aiohttp.ClientSession,
                 settings: Callable[[], Aria2Settings],
                 reconcile: Callable[[Aria2Rpc, bool], Awaitable[None]]) -> None:
        self.process = process
        self._session = session
        self._settings = settings
        self._reconcile = reconcile
        self.rpc: Aria2Rpc | None = None
        self.ready = asyncio.Event()
        self.restarts = 0
        self._kick = asyncio.Event()
        self._applied: Aria2Settings | None = None

    def kick(self) -> None:
        """Reconcile soon (a notification or a new download arrived)."""
        self._kick.set()

    def _on_notification(self, method: str, gid: str) -> None:
        if method in HINTS:
            self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep aria2c running until ``stop``; then stop it gracefully. Never raises."""
        loop = asyncio.get_running_loop()
        backoff_s = 1.0
        while not stop.is_set():
            started = loop.time()
            try:
                await self.process.start()
                self.rpc = await self._connect()
                self._applied = self._settings()
                self.ready.set()
                await self._reconcile(self.rpc, True)
                log.info("aria2_ready", port=self.process.port, restarts=self.restarts)
                await self._watch(self.rpc, stop)
            except (Aria2Unavailable, Aria2Error, OSError) as exc:
                if not stop.is_set():
                    log.error("aria2_unavailable", reason=str(exc), exit_status=self._exit_status(),
                              console=" | ".join(self.process.stderr_tail)[-800:] or None)
            except Exception:
                log.exception("aria2_supervisor_error")
            finally:
                self.ready.clear()
            if stop.is_set():
                break
            await self._close_rpc()
            await self.process.kill()
            if loop.time() - started > 120:
                backoff_s = 1.0
            self.restarts += 1
            log.warning("aria2_restarting", in_s=backoff_s, restarts=self.restarts)
            await wait_any([stop], backoff_s)
            backoff_s = min(backoff_s * 2, self._settings().restart_backoff_max_s)
        await self._shutdown()

    def _exit_status(self) -> int | None:
        proc = self.process.proc
        return proc.returncode if proc is not None else None

    async def _connect(self) -> Aria2Rpc:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_TIMEOUT_S
        while True:
            if not self.process.running:
                await self.process.wait()
                raise Aria2Unavailable(f"aria2c exited at start with status {self._exit_status()}")
            try:
                return await Aria2Rpc.connect(self._session, self.process.port, self.process.secret,
                                              self._settings().rpc_timeout_s, self._on_notification)
            except Aria2Unavailable:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _watch(self, rpc: Aria2Rpc, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        exited = asyncio.create_task(self.process.wait())
        exited.add_done_callback(lambda _t: self._kick.set())
        last_full = loop.time()
        try:
            while not stop.is_set():
                interval_s = self._settings().reconcile_interval_s
                await wait_any([self._kick, stop], max(0.0, last_full + interval_s - loop.time()))
                if self._kick.is_set():
                    await asyncio.sleep(COALESCE_S)  # one pass for a burst of notifications
                self._kick.clear()
                if stop.is_set():
                    return
                if exited.done():
                    raise Aria2Unavailable(f"aria2c exited with status {exited.result()}")
                if rpc.closed:
                    raise Aria2Unavailable("the aria2c RPC socket closed")
                full = loop.time() - last_full >= interval_s
                await self._reconcile(rpc, full)
                if full:
                    last_full = loop.time()
                    await self._apply_options(rpc)
        finally:
            exited.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await exited

    async def _apply_options(self, rpc: Aria2Rpc) -> None:
        """Options changed by a reload (SIGHUP) reach the running aria2c."""
        current = self._settings()
        if self._applied is None or current == self._applied:
            return
        def live(s: Aria2Settings) -> dict[str, str]:
            every = aria2_options(s, port=0, secret="", session=self.process.session,
                                  staging=self.process.staging, user_agent="", daemon_pid=0)
            return {k: every[k] for k in LIVE_OPTIONS}

        changed = {k: v for k, v in live(current).items() if live(self._applied).get(k) != v}
        self._applied = current
        if changed:
            await rpc.call("aria2.changeGlobalOption", changed)
            log.info("aria2_options_changed", options=sorted(changed))

    async def _close_rpc(self) -> None:
        if self.rpc is not None:
            await self.rpc.close()
            self.rpc = None

    async def _shutdown(self) -> None:
        """``saveSession`` + ``shutdown`` over RPC; ``forceShutdown``, then SIGKILL, as fallbacks."""
        rpc = self.rpc
        if self.process.running and rpc is not None and not rpc.closed:
            for method in ("aria2.saveSession", "aria2.shutdown"):
                try:
                    await rpc.call(method)
                except (Aria2Unavailable, Aria2Error) as exc:
                    log.warning("aria2_stop_call_failed", method=method, error=str(exc))
            if not await self.process.wait_exit(10.0):
                with contextlib.suppress(Aria2Unavailable, Aria2Error):
                    await rpc.call("aria2.forceShutdown")
                if not await self.process.wait_exit(5.0):
                    log.warning("aria2_killed", reason="no exit after shutdown and forceShutdown")
        await self._close_rpc()
        await self.process.kill()
        if self.process.proc is not None:
            log.info("aria2_stopped", exit_status=self._exit_status())
        for path in (self.process.conf, self.process.pidfile):  # the conf holds the secret
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink, True)
