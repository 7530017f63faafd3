"""Child processes for tests: ``harvestd run`` with its JSON log lines collected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class DaemonProcess:
    """A ``harvestd run`` child whose JSON log lines are collected as they arrive."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode().rstrip("\n")
            self.raw.append(text)
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(text))

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0,
                       start: int = 0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            for event in self.events[start:]:
                if pred(event):
                    return event
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError("event not seen; log:\n" + "\n".join(self.raw[-40:]))

    def count(self, event: str) -> int:
        """How many ``event`` lines were logged so far."""
        return sum(1 for e in self.events if e["event"] == event)

    async def wait_count(self, event: str, n: int, timeout_s: float = 30.0) -> None:
        """Until ``event`` was logged at least ``n`` times."""
        await self.wait_for(lambda e: e["event"] == event and self.count(event) >= n, timeout_s)

    @classmethod
    async def start(cls, config: Path, cwd: Path, env: dict[str, str] | None = None) -> DaemonProcess:
        """``python -m daemon run --config CONFIG --log-format json`` in ``cwd``."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon", "run", "--config", str(config), "--log-format", "json",
            cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)


def cli_runner(config: Path, env: dict[str, str], timeout_s: float = 90.0):  # type: ignore[no-untyped-def]
    """``await cli("stats", "slooh")`` runs ``python -m daemon stats slooh --config CONFIG`` in
    the config's folder with ``env``; returns (exit status, stdout, stderr)."""

    async def cli(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon", *args, "--config", str(config), cwd=config.parent,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    return cli


def serve_in_thread(app: Any, timeout_s: float = 10.0) -> str:
    """Serve an aiohttp ``app`` on 127.0.0.1 (a free port) from its own thread and event loop
    (for synchronous tests: a browser driven by Playwright's sync API); returns its base URL
    without a trailing slash. The thread ends with the test process."""
    import threading

    from aiohttp import web

    port: list[int] = []
    ready = threading.Event()

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port.append(int(runner.addresses[0][1]))
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    if not ready.wait(timeout_s):
        raise RuntimeError("the imitation site did not start")
    return f"http://127.0.0.1:{port[0]}"
