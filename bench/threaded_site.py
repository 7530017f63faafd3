"""An imitation site served from its own thread and event loop, so a benchmark's client loop
and the server never share one (the server's latency is then a real wait, not a stall)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


def serve_in_thread(app: web.Application, timeout_s: float = 10.0) -> str:
    """Start ``app`` on 127.0.0.1 (a free port) in a daemon thread; returns its base URL."""
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
