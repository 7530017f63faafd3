"""Request parsing shared by the API handlers: every malformed input is a 4xx with a reason.

Ids and offsets are bounded to SQLite's INTEGER range (signed 64-bit); JSON bodies must be
declared ``application/json`` (a browser cannot send that cross-site without a CORS
preflight), valid UTF-8 (RFC 8259 §8.1), at most :data:`MAX_JSON_DEPTH` levels deep and free
of ``NaN``/``Infinity`` (not JSON, RFC 8259 §6).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

MAX_ID = (1 << 63) - 1  # SQLite INTEGER is a signed 64-bit value
MAX_JSON_DEPTH = 64
BODY_TIMEOUT_S = 30.0


def path_id(request: web.Request, what: str) -> int:
    """The integer ``{id}`` of the route, 1 … 2⁶³−1. Raises HTTPBadRequest (400) naming ``what``."""
    return bounded_int(request.match_info["id"], f"{what} id", 1, MAX_ID)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """``?name=`` as an integer in [low, high] (``default`` when absent). Raises
    HTTPBadRequest (400) when it is not a decimal integer or is out of range."""
    text = request.query.get(name)
    if text is None:
        return default
    return bounded_int(text, name, low, high)


def bounded_int(text: str, what: str, low: int, high: int) -> int:
    """``text`` as a decimal integer in [low, high]. Raises HTTPBadRequest (400)."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise web.HTTPBadRequest(reason=f"{what} must be an integer from {low} to {high}")
    value = int(stripped)
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{what} must be an integer from {low} to {high}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any, limit: int) -> bool:
    """True when ``value`` nests deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(raw: bytes, what: str = "the body") -> Any:
    """Decode strict JSON (UTF-8, finite numbers, ≤ 64 levels). Raises HTTPBadRequest (400)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(reason=f"{what} is not UTF-8") from None
    except RecursionError:  # the C decoder recurses once per level and stops cleanly
        raise web.HTTPBadRequest(reason=f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, NaN, a 5,000-digit integer
        raise web.HTTPBadRequest(reason=f"{what} is not valid JSON: {str(exc)[:120]}") from None
    if _depth(value, MAX_JSON_DEPTH):
        raise web.HTTPBadRequest(reason=f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


async def read_json(request: web.Request) -> Any:
    """The request's JSON body. Raises HTTPUnsupportedMediaType (415) unless declared
    ``application/json``, HTTPRequestEntityTooLarge (413) over 1 MiB, HTTPRequestTimeout
    (408) when it takes longer than :data:`BODY_TIMEOUT_S`, HTTPBadRequest (400) when it is
    not strict JSON."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send the body as Content-Type: application/json")
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):  # a client trickling its body holds a slot
            raw = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(reason=f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    if not raw.strip():
        raise web.HTTPBadRequest(reason="the body is empty (a JSON object was expected)")
    return parse_json(raw)
