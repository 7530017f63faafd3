"""Who may talk to the API: a defence against DNS rebinding and cross-site requests.

The API listens on loopback without a token by design, so any web page the operator
visits could otherwise reach it: a page can send "simple" cross-site POSTs (form-encoded,
``text/plain``, multipart) without a CORS preflight, and a hostname that re-resolves to
127.0.0.1 (DNS rebinding) makes the browser treat the API as that site's own origin.

- **Host**: the ``Host`` header must name the listen address, ``localhost``, ``127.0.0.1``,
  ``::1`` or one of ``[api] allowed_hosts`` (any port); otherwise 421 Misdirected Request.
  A rebinding page always sends its own host name.
- **Writes** (anything but GET/HEAD/OPTIONS): refused with 403 when the browser says the
  request is cross-site (``Sec-Fetch-Site: cross-site`` or ``same-site``, Fetch Metadata,
  W3C) or when an ``Origin`` header names another origin than the request's own
  (``Origin: null`` included; RFC 6454 §7). Clients that are not browsers (curl, scripts)
  send neither header and are not affected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from daemon.config.api import ApiSettings, split_listen

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host_header: str) -> str:
    """``"[::1]:8750"`` → ``"::1"``, ``"Example.LAN:80"`` → ``"example.lan"`` (no port, lower case)."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def allowed_host_names(settings: ApiSettings) -> frozenset[str] | None:
    """The host names the API answers to, or None for any (``allowed_hosts = ["*"]``)."""
    if "*" in settings.allowed_hosts:
        return None
    listen_host, _port = split_listen(settings.listen)
    names = set(LOCAL_HOSTS) | {host_name(h) for h in settings.allowed_hosts}
    try:
        if not ipaddress.ip_address(listen_host).is_unspecified:
            names.add(listen_host.lower())
    except ValueError:
        names.add(listen_host.lower())
    return frozenset(names)


def guard_middleware(settings: ApiSettings) -> Middleware:
    """The aiohttp middleware enforcing the Host and cross-site rules of the module docstring."""
    names = allowed_host_names(settings)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if names is not None:
            host = host_name(request.headers.get("Host", ""))
            if host not in names:
                shown = request.headers.get("Host", "")[:100]
                raise web.HTTPMisdirectedRequest(
                    reason=f"Host {shown!r} is not an address of this API (add it to [api] allowed_hosts)")
        if request.method not in SAFE_METHODS:
            site = request.headers.get("Sec-Fetch-Site", "").lower()
            origin = request.headers.get("Origin")
            foreign = origin is not None and not _same_origin(origin, request)
            if site in ("cross-site", "same-site") or foreign:
                raise web.HTTPForbidden(reason="cross-site request refused: writes must come from the "
                                               "API's own origin or a non-browser client")
        return await handler(request)

    return guard


def _same_origin(origin: str, request: web.Request) -> bool:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file:, redirects) or garbage
    return parts.netloc.lower() == request.headers.get("Host", "").strip().lower()
