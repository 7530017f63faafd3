"""aria2 JSON-RPC over WebSocket (aria2c(1) manual, "RPC INTERFACE"), on the shared session.

One socket carries requests, their responses (matched by ``id``, per client — not a
process-wide table as in aioaria2) and aria2's notifications (``aria2.onDownloadStart``,
``onDownloadComplete``, ``onDownloadError``, …), which have no ``id``. Every call carries
``token:<secret>`` as its first parameter; ``system.multicall`` carries it inside each
nested call. A call that gets no answer within ``timeout_s`` raises
:class:`Aria2Unavailable`, as does every pending call when the socket closes: the caller
(the supervisor) decides to reconnect or restart aria2c. Nothing is retried here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import structlog

from daemon.codes import ErrorCode
from daemon.errors import DownloadError

log = structlog.get_logger("daemon.downloads.aria2")


class Aria2Unavailable(DownloadError):
    """aria2c does not answer: socket closed, connection refused or a call timed out (an
    item caught by it is retried: the supervisor restarts aria2c)."""

    item_code = ErrorCode.NETWORK
    retryable = True


class Aria2Error(DownloadError):
    """aria2c answered with a JSON-RPC error (e.g. ``GID … is not found``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Aria2Rpc:
    """A connected JSON-RPC client. ``rpc = await Aria2Rpc.connect(...)``; ``await rpc.close()``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, secret: str, timeout_s: float,
                 on_notification: Callable[[str, str], None]) -> None:
        self._ws = ws
        self._token = f"token:{secret}"
        self._timeout_s = timeout_s
        self._on_notification = on_notification
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._reader = asyncio.create_task(self._read(), name="aria2-rpc-reader")

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, port: int, secret: str, timeout_s: float,
                      on_notification: Callable[[str, str], None]) -> Aria2Rpc:
        """Open ``ws://127.0.0.1:<port>/jsonrpc`` and check the secret with ``aria2.getVersion``.

        Raises:
            Aria2Unavailable: nothing listens there, or no answer in time.
            Aria2Error: the secret was refused ("Unauthorized").
        """
        try:
            ws = await session.ws_connect(
                f"ws://127.0.0.1:{port}/jsonrpc", max_msg_size=256 << 20, autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Aria2Unavailable(f"cannot connect to aria2c on port {port}: {exc}") from None
        rpc = cls(ws, secret, timeout_s, on_notification)
        try:
            await rpc.call("aria2.getVersion")
        except BaseException:
            await rpc.close()
            raise
        return rpc

    @property
    def closed(self) -> bool:
        """True once the socket is closed (every later call raises :class:`Aria2Unavailable`)."""
        return self._reader.done()

    async def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` (``aria2.*`` gets the token prepended) and return its ``result``.

        Raises:
            Aria2Error: aria2c returned an error object.
            Aria2Unavailable: closed socket or no answer within the timeout.
        """
        args = [self._token, *params] if method.startswith("aria2.") else list(params)
        return await self._send(method, args)

    async def multicall(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """``system.multicall``: one round trip; each entry is a result or an :class:`Aria2Error`."""
        if not calls:
            return []
        nested = [{"methodName": m, "params": [self._token, *p]} for m, p in calls]
        answers = await self._send("system.multicall", [nested])
        out: list[Any] = []
        for answer in answers:
            if isinstance(answer, list) and len(answer) == 1:
                out.append(answer[0])
            elif isinstance(answer, dict) and "code" in answer:
                out.append(Aria2Error(int(answer["code"]), str(answer.get("message", ""))))
            else:
                out.append(answer)
        return out

    async def _send(self, method: str, params: list[Any]) -> Any:
        if self.closed:
            raise Aria2Unavailable("the aria2c RPC socket is closed")
        request_id = str(next(self._ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self._ws.send_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            async with asyncio.timeout(self._timeout_s):
                return await future
        except TimeoutError:
            raise Aria2Unavailable(f"aria2c did not answer {method} within {self._timeout_s:g} s") from None
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise Aria2Unavailable(f"aria2c RPC socket failed: {exc}") from None
        finally:
            self._waiting.pop(request_id, None)

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    body = msg.json()
                except ValueError:
                    log.warning("aria2_rpc_bad_message", size=len(msg.data))
                    continue
                self._dispatch(body)
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.warning("aria2_rpc_socket_error", error=str(exc))
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(Aria2Unavailable("the aria2c RPC socket closed"))

    def _dispatch(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        request_id = body.get("id")
        if request_id is not None:
            future = self._waiting.get(str(request_id))
            if future is None or future.done():
                return
            error = body.get("error")
            if isinstance(error, dict):
                future.set_exception(Aria2Error(int(error.get("code", 1)), str(error.get("message", ""))))
            else:
                future.set_result(body.get("result"))
            return
        method = body.get("method")
        for param in body.get("params") or []:
            if isinstance(method, str) and isinstance(param, dict) and "gid" in param:
                self._on_notification(method, str(param["gid"]))

    async def close(self) -> None:
        """Close the socket and stop the reader (pending calls raise :class:`Aria2Unavailable`)."""
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
