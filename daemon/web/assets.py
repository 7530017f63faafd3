"""Static files of the dashboard, served at ``/static/{hash}/{name}``: the hash is the first
12 hex digits of the file's SHA-256, so a URL never changes meaning and can be cached for a
year (``Cache-Control: public, max-age=31536000, immutable``); templates ask :meth:`Assets.url`.
Everything is in the package: no CDN, nothing fetched from the internet."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from aiohttp import web

CACHE_FOREVER = "public, max-age=31536000, immutable"
TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain", ".svg": "image/svg+xml",
         ".png": "image/png"}


class Assets:
    """The files of ``daemon/web/static``, read once at start (a few hundred KB)."""

    def __init__(self) -> None:
        folder = Path(str(resources.files("daemon.web") / "static"))
        self.files: dict[str, tuple[str, bytes]] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in TYPES:
                body = path.read_bytes()
                self.files[path.name] = (hashlib.sha256(body).hexdigest()[:12], body)

    def url(self, name: str) -> str:
        """``/static/{hash}/{name}``. Raises KeyError for a file that is not there."""
        return f"/static/{self.files[name][0]}/{name}"

    async def handle(self, request: web.Request) -> web.Response:
        """Serve a file whose hash matches (404 otherwise: an old page asks a new daemon)."""
        name, digest = request.match_info["name"], request.match_info["hash"]
        found = self.files.get(name)
        if found is None or found[0] != digest:
            raise web.HTTPNotFound(reason=f"no static file {name} {digest}")
        return web.Response(body=found[1], content_type=TYPES[Path(name).suffix],
                            headers={"Cache-Control": CACHE_FOREVER, "ETag": f'"{digest}"'})
