"""Small asyncio helpers shared by the polling components."""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_NODE = [socket.gethostname()]


def set_node_name(name: str | None) -> None:
    """Name this process's node (``[daemon] node_name``; None: the host name). Lease owners
    and runs carry it, so N daemons on one database tell their leases apart."""
    _NODE[0] = name or socket.gethostname()


def node_name() -> str:
    """This process's node name (``[daemon] node_name``, default the host name)."""
    return _NODE[0]


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
    """A lease owner id unique to this process and component, e.g. ``nas1:4242:worker``
    (node name, process id, component)."""
    return f"{node_name()}:{os.getpid()}:{component}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (from :func:`lease_owner`) names a process of this node that is gone.

    Owners of other nodes, or that cannot be parsed, are never called dead: their leases
    simply expire.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != node_name() or not pid_text.isdigit():
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


class GroupCommit(Generic[T, R]):
    """Batch concurrent writes into one call (group commit): ``await gc.submit(row)``.

    The first caller starts a flush; rows submitted while a flush runs go together into
    the next one. ``write_many(rows)`` returns one answer per row, in order; its exception
    is raised in every caller of that batch.
    """

    def __init__(self, write_many: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._write_many = write_many
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, row: T) -> R:
        """Queue ``row`` and wait for the batch it lands in to be written."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # shielded: a cancelled caller must not cancel the write of the whole batch
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                answers = await self._write_many([row for row, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
