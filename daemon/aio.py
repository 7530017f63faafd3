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


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (from :func:`lease_owner`) names a process of this host that is gone.

    Owners of other hosts, or that cannot be parsed, are never called dead: their leases
    simply expire.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
