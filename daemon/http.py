"""The shared HTTP client: one aiohttp session, per-host rate limits, one retry policy.

Retries (via stamina: exponential backoff with jitter) cover connection errors, timeouts,
truncated bodies and HTTP 408, 429, 500, 502, 503, 504; ``Retry-After`` (delta-seconds or
HTTP-date, RFC 9110 §10.2.3) overrides the backoff and, on 429/503, holds back *every*
request to that host until it passes. Other 4xx are final; 404 raises :class:`NotFound`.
Per-host politeness is an :class:`aiolimiter.AsyncLimiter` (requests per minute, spaced
evenly: one request per ``60 / rpm`` seconds, no bursts, so the rate is never above the
limit over any window) plus a semaphore bounding concurrent requests to the host. A source
may suggest a default limit for its own host; ``[http.hosts."HOST"]`` always wins.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import urlsplit

import aiohttp
import stamina
import structlog
from aiolimiter import AsyncLimiter

from daemon.codes import ErrorCode
from daemon.config.settings import HostLimit, HttpSettings
from daemon.errors import HarvestdError
from daemon.metrics import HTTP_REQUESTS, HTTP_RETRIES, RATE_LIMIT_WAIT

log = structlog.get_logger("daemon.http")
T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
WRITE_BATCH_BYTES = 1 << 20


class HttpError(HarvestdError):
    """A request that failed for good: ``status`` is the HTTP status, or None (network).

    As an item's failure: no status → ``network``, retried; 5xx, 408, 429 → ``http_error``,
    retried; any other status → ``http_error``, final.
    """

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.status = status

    def error_code(self) -> ErrorCode:
        """``network`` without an HTTP status, else ``http_error``."""
        return ErrorCode.NETWORK if self.status is None else ErrorCode.HTTP_ERROR

    def transient(self) -> bool:
        """No answer, a server error, a timeout or a rate limit: worth another attempt."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


class NotFound(HttpError):
    """HTTP 404 / 410: the resource does not exist (final, never retried)."""

    def error_code(self) -> ErrorCode:
        """Always ``not_found``."""
        return ErrorCode.NOT_FOUND

    def transient(self) -> bool:
        """Never: the resource does not exist."""
        return False


class _Retryable(Exception):
    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after_s = retry_after_s


class TooLarge(HttpError):
    """The body exceeded the caller's ``max_bytes``."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class _Host:
    limiter: AsyncLimiter | None
    semaphore: asyncio.Semaphore
    not_before: float = 0.0  # loop.time() before which no request is sent
    spec: HostLimit | None = field(default=None)


@dataclass(frozen=True)
class DownloadedFile:
    """A finished streamed download: size in bytes, SHA-256 hex digest, and the server's
    ``Digest`` (RFC 3230) or ``Content-MD5`` (RFC 1864) header value when it sent one."""

    size_bytes: int
    sha256: str
    digest_header: str | None = None


def _configured(settings: HttpSettings, netloc: str) -> HostLimit | None:
    """``[http.hosts]``'s limit for ``netloc`` (``host:port``), named with or without the port,
    in any case (the config's keys are lower-cased when loaded)."""
    name = netloc.rpartition("@")[2].lower()
    bare = name[1:].partition("]")[0] if name.startswith("[") else name.rpartition(":")[0] or name
    return settings.hosts.get(name) or settings.hosts.get(bare)


async def _read_capped(resp: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(url, resp.status, f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpClient:
    """The one client of the process. ``async with HttpClient(settings) as http``."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._hosts: dict[str, _Host] = {}
        self._suggested: dict[str, HostLimit] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        # retries are logged by request() with their URL; stamina's own line would repeat them
        stamina.instrumentation.set_on_retry_hooks([])
        s = self.settings
        connector = aiohttp.TCPConnector(limit=100, limit_per_host=s.limit_per_host, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(
            total=s.timeout_s, sock_connect=s.connect_timeout_s, sock_read=s.read_timeout_s
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": s.user_agent}
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let transports close (aiohttp graceful shutdown notes)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session (for components that need raw access, e.g. WebSockets)."""
        if self._session is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        return self._session

    def update_settings(self, settings: HttpSettings) -> None:
        """Swap in new settings (SIGHUP). Limiters of hosts whose limits changed are rebuilt."""
        old = self.settings
        self.settings = settings
        for host in list(self._hosts):
            if _configured(old, host) != _configured(settings, host) or (
                old.default_requests_per_minute != settings.default_requests_per_minute
            ):
                del self._hosts[host]

    def suggest_host_limit(self, url: str, limit: HostLimit) -> None:
        """A source's default politeness for its host (used unless the config names the host)."""
        host = urlsplit(url).netloc
        if _configured(self.settings, host) is not None or self._suggested.get(host) == limit:
            return
        self._suggested[host] = limit
        self._hosts.pop(host, None)  # rebuilt with the new limit at the next request

    def host_limit(self, url: str) -> HostLimit | None:
        """The limit that applies to ``url``'s host: ``[http.hosts]``, else a source's
        suggestion, else None (``[http] default_requests_per_minute`` / ``limit_per_host``)."""
        host = urlsplit(url).netloc
        return _configured(self.settings, host) or self._suggested.get(host)

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            spec = _configured(self.settings, host) or self._suggested.get(host)
            rpm = spec.requests_per_minute if spec else self.settings.default_requests_per_minute
            limiter = AsyncLimiter(1, 60 / rpm) if rpm else None
            concurrent = spec.max_concurrent if spec else self.settings.limit_per_host
            state = _Host(limiter, asyncio.Semaphore(concurrent), spec=spec)
            self._hosts[host] = state
        return state

    async def admit(self, url: str) -> None:
        """Wait until one more request to ``url``'s host is allowed (rate limit, Retry-After hold).

        For requests made outside this client (aria2c downloads): each takes one token of the
        host's ``requests_per_minute``; its concurrency is aria2c's own business.
        """
        state = self._host(urlsplit(url).netloc)
        delay = state.not_before - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        if state.limiter is not None:
            await state.limiter.acquire()

    def hold(self, url: str, delay_s: float) -> None:
        """No request to ``url``'s host before ``delay_s`` seconds from now (a 503/429 seen by
        aria2c, whose Retry-After header harvestd cannot read); bounded by ``max_retry_after_s``."""
        state = self._host(urlsplit(url).netloc)
        until = asyncio.get_running_loop().time() + min(delay_s, self.settings.max_retry_after_s)
        state.not_before = max(state.not_before, until)

    def held_for_s(self, url: str) -> float:
        """Seconds until ``url``'s host may be asked again (0 when it may be now)."""
        state = self._host(urlsplit(url).netloc)
        return max(0.0, state.not_before - asyncio.get_running_loop().time())

    def _retry_hook(self, exc: BaseException) -> bool | float:
        if isinstance(exc, _Retryable):
            if exc.retry_after_s is not None:
                return min(exc.retry_after_s, self.settings.max_retry_after_s)
            return True
        return isinstance(
            exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | TimeoutError
        )

    async def request(self, url: str, handle: Callable[[aiohttp.ClientResponse], Awaitable[T]],
                      method: str = "GET", json_body: object = None,
                      headers: dict[str, str] | None = None) -> T:
        """``method`` (GET, or POST with ``json_body``) ``url`` with limits and retries;
        ``handle`` reads the 2xx response.

        ``handle`` may run more than once (once per attempt) and must start afresh each time.
        POST is retried like GET: use it only for calls that are safe to repeat (list queries).

        Raises:
            NotFound: HTTP 404 or 410.
            HttpError: another 4xx, or retries exhausted (``status`` None for network errors).
        """
        host = urlsplit(url).netloc
        state = self._host(host)
        s = self.settings
        loop = asyncio.get_running_loop()
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_hook,
                attempts=s.max_attempts,
                timeout=s.retry_timeout_s,
                wait_initial=s.backoff_initial_s,
                wait_max=s.backoff_max_s,
                wait_jitter=s.backoff_initial_s,
            ):
                with attempt:
                    async with state.semaphore:
                        waited = loop.time()
                        delay = state.not_before - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        if state.limiter is not None:
                            await state.limiter.acquire()
                        RATE_LIMIT_WAIT.labels(host).inc(loop.time() - waited)
                        if attempt.num > 1:
                            HTTP_RETRIES.labels(host).inc()
                        assert self._session is not None
                        async with self._session.request(method, url, json=json_body,
                                                         headers=headers) as resp:
                            HTTP_REQUESTS.labels(host, str(resp.status)).inc()
                            if resp.status in RETRY_STATUSES:
                                wait = parse_retry_after(resp.headers.get("Retry-After"))
                                if wait is not None and resp.status in (429, 503):
                                    wait = min(wait, s.max_retry_after_s)
                                    state.not_before = max(state.not_before, loop.time() + wait)
                                log.info("http_retry", url=url, status=resp.status,
                                         retry_after_s=wait, attempt=attempt.num)
                                raise _Retryable(resp.status, wait)
                            if resp.status in (404, 410):
                                raise NotFound(url, resp.status, f"not found (HTTP {resp.status})")
                            if resp.status >= 400:
                                raise HttpError(url, resp.status, f"HTTP {resp.status} {resp.reason}")
                            return await handle(resp)
        except _Retryable as exc:
            raise HttpError(url, exc.status, f"HTTP {exc.status} after {s.max_attempts} attempts") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            HTTP_REQUESTS.labels(host, "error").inc()
            reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise HttpError(url, None, f"network error after retries: {reason}") from None
        raise AssertionError("unreachable: retry_context always returns or raises")

    async def get_bytes(self, url: str, max_bytes: int = 64 << 20) -> bytes:
        """The whole body of ``url`` (≤ ``max_bytes`` bytes). Raises as :meth:`request`."""

        async def read(resp: aiohttp.ClientResponse) -> bytes:
            return await _read_capped(resp, url, max_bytes)

        return await self.request(url, read)

    async def post_json(self, url: str, body: object, headers: dict[str, str] | None = None,
                        max_bytes: int = 64 << 20) -> bytes:
        """POST ``body`` as JSON (``Content-Type: application/json``) and return the raw answer
        (≤ ``max_bytes`` bytes). Retried and rate-limited as :meth:`request`; raises likewise."""

        async def read(resp: aiohttp.ClientResponse) -> bytes:
            return await _read_capped(resp, url, max_bytes)

        return await self.request(url, read, method="POST", json_body=body, headers=headers)

    async def download(self, url: str, part_path: Path, max_bytes: int = 8 << 30) -> DownloadedFile:
        """Stream ``url`` into ``part_path`` (truncated per attempt) and hash it. Not fsynced:
        the connection is free once the bytes are written; the caller seals the file (fsync)
        before it is published.

        Writes go to a thread in ~1 MiB batches so the loop never blocks on disk; each attempt
        truncates the file with its first write. Raises as :meth:`request`; on error
        ``part_path`` may hold a partial file.
        """

        async def stream(resp: aiohttp.ClientResponse) -> DownloadedFile:
            digest = hashlib.sha256()
            handle: list[BinaryIO] = []  # opened (truncated) by this attempt's first write

            def write(data: bytes, last: bool) -> None:  # in a thread: one trip per batch
                if not handle:
                    handle.append(open(part_path, "wb"))  # noqa: SIM115 - closed by the last write
                handle[0].write(data)
                digest.update(data)
                if last:
                    handle.pop().close()

            size = 0
            buf = bytearray()
            try:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(url, resp.status, f"body larger than {max_bytes} bytes")
                    buf += chunk
                    if len(buf) >= WRITE_BATCH_BYTES:
                        await asyncio.to_thread(write, bytes(buf), False)
                        buf.clear()
                expected = resp.content_length
                if expected is not None and size != expected:
                    raise aiohttp.ClientPayloadError(f"got {size} of {expected} bytes")
                # a small file is one trip to a thread: open, write, close (no fsync here:
                # the caller seals the file before it is published)
                await asyncio.to_thread(write, bytes(buf), True)
            finally:
                if handle:
                    await asyncio.to_thread(handle.pop().close)
            return DownloadedFile(size, digest.hexdigest(),
                                  resp.headers.get("Digest") or resp.headers.get("Content-MD5"))

        return await self.request(url, stream)
