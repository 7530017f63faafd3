"""An imitation file host on 127.0.0.1 that behaves like a real static server (nginx-like).

- ``GET /files/<name>``: 200 with ``Content-Length``, ``Accept-Ranges: bytes``,
  ``Last-Modified``; a ``Range: bytes=a-b`` / ``bytes=a-`` header gets 206 with
  ``Content-Range`` (what aria2c's segmented downloads need); an unsatisfiable range 416.
- Quirks on demand: ``unavailable[name] = n`` → the next n requests get 503;
  ``corrupt[name] = n`` → the next n GETs serve the file with one byte flipped;
  ``retry_after_s`` → those 503s carry ``Retry-After``; ``times`` logs every request;
  ``send_digest`` → every answer carries ``Digest: MD5=<base64>`` of the true bytes; unknown
  names → 404; ``rate_bps`` throttles every response (to catch a download mid-way);
  ``HEAD`` works as a real server's does; ``content_types[name]`` overrides the
  ``Content-Type`` (a hostile host answering ``application/metalink4+xml``).
- Server-side counts: ``requests[name]``, ``bytes_sent[name]`` (bytes handed to the socket:
  a client that closes an open-ended range early makes this over-count by the socket
  buffers) and ``ranges[name]``, the Range header of every GET in order ("" for none), so
  tests can tell a resumed download (ranges from the middle) from a restarted one.

Run alone for benchmarks: ``python -m tests.fakes.file_server --port 8765 --dir DIR``
(serves the files of DIR with sendfile; no quirks).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import re
import time
from collections import Counter, defaultdict
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def payload(name: str, size_bytes: int) -> bytes:
    """Deterministic, incompressible bytes for ``name`` (SHA-256 counter stream)."""
    out = bytearray()
    seed = name.encode()
    counter = 0
    while len(out) < size_bytes:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest() * 64
        counter += 1
    return bytes(out[:size_bytes])


class FileSite:
    """State of the imitation: files, quirks and counters."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.unavailable: dict[str, int] = {}
        self.rate_bps: int | None = None
        self.requests: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.ranges: defaultdict[str, list[str]] = defaultdict(list)
        self.mtime = 1_700_000_000.0
        self.send_digest = False  # add ``Digest: MD5=<base64>`` (RFC 3230) to every answer
        self.corrupt: dict[str, int] = {}  # name → the next n GETs serve damaged bytes (same size)
        self.content_types: dict[str, str] = {}  # name → Content-Type (default octet-stream)
        self.retry_after_s: int | None = None  # sent with every 503 of ``unavailable``
        self.times: list[tuple[float, str, int]] = []  # (monotonic time, name, status) per request
        self.latency_s = 0.0  # added before every answer (a far-away server)

    def add(self, name: str, size_bytes: int) -> bytes:
        """Serve ``size_bytes`` deterministic bytes at ``/files/<name>``; returns them."""
        data = payload(name, size_bytes)
        self.files[name] = data
        return data

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_route("GET", "/files/{name}", self._get)
        app.router.add_route("HEAD", "/files/{name}", self._get)
        return app

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return await self.serve(request, request.match_info["name"])

    async def serve(self, request: web.Request, name: str) -> web.StreamResponse:
        """Answer ``request`` with the file ``name`` (quirks, Range and counters included)."""
        self.requests[name] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.unavailable.get(name, 0) > 0:
            self.unavailable[name] -= 1
            self.times.append((time.monotonic(), name, 503))
            headers = {"Retry-After": str(self.retry_after_s)} if self.retry_after_s is not None else {}
            return web.Response(status=503, text="Service Temporarily Unavailable", headers=headers)
        self.times.append((time.monotonic(), name, 200))
        data = self.files.get(name)
        if data is None:
            return web.Response(status=404, text="Not Found")
        digest = base64.b64encode(hashlib.md5(data).digest()).decode()  # of the true bytes
        if self.corrupt.get(name, 0) > 0 and request.method == "GET":
            self.corrupt[name] -= 1
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        size = len(data)
        start, end = 0, size - 1
        status = 200
        header = request.headers.get("Range")
        if request.method == "GET":
            self.ranges[name].append(header or "")
        if header:
            match = _RANGE.match(header.strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                else:  # suffix range: the last N bytes
                    start = max(0, size - int(match.group(2)))
                if start >= size or start > end:
                    return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
                status = 206
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Type": self.content_types.get(name, "application/octet-stream"),
            "Last-Modified": formatdate(self.mtime, usegmt=True),
            "Content-Length": str(end - start + 1),
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if self.send_digest:
            headers["Digest"] = f"MD5={digest}"
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        if request.method == "HEAD":
            return resp
        pos = start
        while pos <= end:
            chunk = data[pos:min(pos + CHUNK, end + 1)]
            await resp.write(chunk)
            self.bytes_sent[name] += len(chunk)
            pos += len(chunk)
            if self.rate_bps:
                await asyncio.sleep(len(chunk) / self.rate_bps)
        await resp.write_eof()
        return resp


def _static_app(folder: Path) -> web.Application:
    async def get(request: web.Request) -> web.StreamResponse:
        path = folder / request.match_info["name"]
        if "/" in request.match_info["name"] or not path.is_file():
            return web.Response(status=404)
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get("/files/{name}", get)
    return app


def main() -> None:
    """Serve a folder (benchmarks)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    web.run_app(_static_app(args.dir), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
