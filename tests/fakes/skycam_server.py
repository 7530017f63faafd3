"""An imitation of the observatory's sky-camera web server, on 127.0.0.1.

Like the real one (seed 001): ``/meteorologia/cielo/image/YYYY-MMDDHHmm.jpg`` for slots of
the current year, ``/meteorologia/cielo/image/YYYY/YYYY-MMDDHHmm.jpg`` for earlier years (the
wrong layout is a 404), JPEGs only at minutes 2, 12, …, 52, gaps (404) where the camera
missed a slot, and an overloaded Apache that sometimes answers 503.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.frames import fisheye_frame, fraction_for_key

PATH = re.compile(r"^(?:(?P<dir>\d{4})/)?(?P<y>\d{4})-(?P<md>\d{4})(?P<hm>\d{4})\.jpg$")
ROCKET = Path(__file__).resolve().parent.parent / "data" / "rocket.jpg"


@dataclass
class SkycamSite:
    """State of the imitation: gaps, 503 budgets, request counts, served ground truth."""

    timezone: str = "America/Argentina/Cordoba"
    minutes: tuple[int, ...] = (2, 12, 22, 32, 42, 52)
    gaps: set[str] = field(default_factory=set)  # keys "YYYY-MM-DDTHH:MM" answering 404
    unavailable: dict[str, int] = field(default_factory=dict)  # key → 503s before a 200
    retry_after: str | None = None  # Retry-After value sent with 503s
    photo_keys: set[str] = field(default_factory=set)  # keys served with the real photo
    corrupt_keys: set[str] = field(default_factory=set)  # keys served truncated
    requests: Counter[str] = field(default_factory=Counter)
    served: dict[str, float | None] = field(default_factory=dict)  # key → true cloud fraction
    frame_size: tuple[int, int] = (640, 480)
    latency_s: float = 0.0  # added before each answer (a remote server's round trip)
    cache: dict[str, bytes] = field(default_factory=dict)  # key → JPEG bytes already made

    def current_year(self) -> int:
        return datetime.now(ZoneInfo(self.timezone)).year

    def body_for(self, key: str) -> bytes:
        if key in self.photo_keys:
            self.served[key] = None
            return ROCKET.read_bytes()
        fraction = fraction_for_key(key)
        self.served[key] = fraction
        body = self.cache.get(key)
        if body is None:
            width, height = self.frame_size
            body = fisheye_frame(fraction, size=self.frame_size, radius=min(width, height) * 23 // 50,
                                 seed=abs(hash(key)) % 2**32)
            self.cache[key] = body
        if key in self.corrupt_keys:
            return body[: len(body) // 2]
        return body

    async def handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        self.requests[tail] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        match = PATH.match(tail)
        if not match:
            raise web.HTTPNotFound()
        year = int(match["y"])
        in_folder = match["dir"] is not None
        if in_folder and int(match["dir"]) != year:
            raise web.HTTPNotFound()
        if in_folder != (year < self.current_year()):
            raise web.HTTPNotFound()  # past years live only in their folder, and vice versa
        md, hm = match["md"], match["hm"]
        key = f"{year:04d}-{md[:2]}-{md[2:]}T{hm[:2]}:{hm[2:]}"
        try:
            datetime.strptime(key, "%Y-%m-%dT%H:%M")
        except ValueError:
            raise web.HTTPNotFound() from None
        if int(hm[2:]) not in self.minutes or key in self.gaps:
            raise web.HTTPNotFound()
        if self.unavailable.get(key, 0) > 0:
            self.unavailable[key] -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=503, text="Service Unavailable", headers=headers)
        return web.Response(body=self.body_for(key), content_type="image/jpeg")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/meteorologia/cielo/image/{tail:.+}", self.handle)
        return app


def url_template(base_url: str) -> str:
    """The source's ``url_template`` for an imitation served at ``base_url``."""
    return base_url.rstrip("/") + "/meteorologia/cielo/image/{year_dir}{t:%Y}-{t:%m%d%H%M}.jpg"


def main() -> None:
    """Serve the imitation on 127.0.0.1 (benchmarks, manual runs): ``--port``, ``--frame-size``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--frame-size", default="640x480", help="WxH of the fisheye frames")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    args = parser.parse_args()
    width, height = (int(v) for v in args.frame_size.split("x"))
    site = SkycamSite(frame_size=(width, height), latency_s=args.latency_ms / 1000)
    print(f"imitation sky camera on http://127.0.0.1:{args.port}/", flush=True)
    web.run_app(site.app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
