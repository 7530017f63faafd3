"""Small asyncio helpers shared by the polling components."""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")


async def wait_any(events: list[asyncio.Event], timeout_s: float) -> None:
    """Return when any of ``events`` is set or after ``timeout_s`` seconds."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def run_in_pool(pool: Executor, fn: Callable[..., T], *args: object) -> T:
    """Run blocking ``fn(*args)`` in ``pool`` with the caller's contextvars (log context)."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(pool, ctx.run, fn, *args)


def lease_owner(component: str) -> str:
    """A lease owner id unique to this process and component, e.g. ``nas1:4242:worker``."""
    return f"{socket.gethostname()}:{os.getpid()}:{component}"
