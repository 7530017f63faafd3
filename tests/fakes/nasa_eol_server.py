"""An imitation of eol.jsc.nasa.gov (``shared/reference/nasa_eol.md`` §1–§3, §8 checklist).

Routes: the PhotosDatabaseAPI (below), ``/SearchPhotos/photo.pl?mission=&roll=&frame=`` (the
current markup, or the older one for photos listed in ``older_markup``; ``broken_pages`` get
an error page), ``/DatabaseImages/{directory}/{filename}`` (real JPEG bytes, Range, 404 for
photos in ``missing_images``), the camera-metadata ``.txt`` the page's button points at, and
``/SearchPhotos/GetGeotiff.pl?photo=ID`` (a TIFF) for photos with ``geotiff=True``.

``GET|POST /SearchPhotos/PhotosDatabaseAPI/PhotosDatabaseAPI.pl?query=…&return=…&key=…``:
4-tuples ``table|field|op|value`` ANDed; tables in ``query`` and ``return`` inner-joined on
(mission, roll, frame) — a photo without a row in a referenced table is left out (new
missions exist only in ``images``); one output row per ``images`` row (per stored size);
operators eq ne lt le gt ge like "not like" (``*`` wildcard; values case-insensitive);
every value a string, decimals without their leading zero (``".5"``, ``"-.3"``), keys in
arbitrary order; no match → ``{"result": "SQL found no records that match the specified
criteria"}``. A missing or unknown key → ``{"error": "Invalid API key"}`` (the real answer
is not documented; this choice is a guess, as the reference says). Bad syntax → ``{"error": …}``.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from tests.fakes.file_server import FileSite
from tests.fakes.nasa_pages import PagePhoto, current_page, older_page

API_PATH = "/SearchPhotos/PhotosDatabaseAPI/PhotosDatabaseAPI.pl"
NO_RECORDS = "SQL found no records that match the specified criteria"


@dataclass
class EolPhoto:
    """One photo: its catalogue (``frames``; None = not catalogued) and stored images."""

    mission: str
    roll: str
    frame: str
    frames: dict[str, Any] | None
    images: list[dict[str, Any]] = field(default_factory=list)
    geotiff: bool = False

    @property
    def nasa_id(self) -> str:
        return f"{self.mission}-{self.roll}-{self.frame}"

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        key = {"mission": self.mission, "roll": self.roll, "frame": self.frame}
        if table == "frames":
            return [{**key, **self.frames}] if self.frames is not None else []
        if table == "nadir":  # computed for every photo from time + ephemeris
            f = self.frames or {}
            return [{**key, "pdate": f.get("pdate"), "ptime": f.get("ptime"), "lat": f.get("nlat"),
                     "lon": f.get("nlon"), "azi": f.get("azi"), "elev": f.get("elev"),
                     "cldp": f.get("cldp")}]
        if table == "images":
            return [{**key, **img} for img in self.images]
        return []


def site_number(value: Any) -> str:
    """How the site prints a value: strings; ``0.5`` → ``".5"``, ``-0.3`` → ``"-.3"``."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0")
        text = text + "0" if text.endswith(".") else text
        return text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text
    return str(value)


def _matches(actual: Any, op: str, wanted: str) -> bool:
    text = site_number(actual).strip().lower()
    wanted = wanted.strip().lower()
    if op in ("like", "not like"):
        pattern = "^" + ".*".join(re.escape(p) for p in wanted.split("*")) + "$"
        hit = re.match(pattern, text) is not None
        return hit if op == "like" else not hit
    try:
        a, b = float(text), float(wanted)
    except ValueError:
        a, b = text, wanted  # type: ignore[assignment]
    return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


class EolSite:
    """State of the imitation: photos, valid keys, request log (keys never printed)."""

    def __init__(self, photos: list[EolPhoto], api_keys: set[str] | None = None, seed: int = 7) -> None:
        self.photos = photos
        self.api_keys = api_keys or {"test-key"}
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        self.older_markup: set[str] = set()
        self.broken_pages: set[str] = set()
        self.missing_images: set[str] = set()
        self.files = FileSite()
        self.latency_s = 0.0  # added before every answer (a far-away server)
        self.page_times: list[float] = []  # loop time of each photo.pl request
        self._rng = random.Random(seed)
        jpeg = (Path(__file__).parents[1] / "data" / "rocket.jpg").read_bytes()
        for photo in photos:
            for img in photo.images:
                self.files.files[f"{img['directory']}/{img['filename']}"] = jpeg
            self.files.files[f"camera/{photo.nasa_id}.txt"] = _camera_text(photo).encode()
            if photo.geotiff:
                self.files.files[f"geotiff/{photo.nasa_id}"] = _tiff()

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_route("*", API_PATH, self._api)
        app.router.add_get("/SearchPhotos/photo.pl", self._page)
        app.router.add_get("/SearchPhotos/GetGeotiff.pl", self._geotiff)
        app.router.add_get("/SearchPhotos/CameraMetadata/{mission}/{name}", self._camera)
        app.router.add_get("/DatabaseImages/{tail:.+}", self._image)
        return app

    def _photo(self, mission: str, roll: str, frame: str) -> EolPhoto | None:
        for photo in self.photos:
            if (photo.mission, photo.roll, photo.frame) == (mission.upper(), roll.upper(), frame.lstrip("0")):
                return photo
        return None

    async def _page(self, request: web.Request) -> web.Response:
        q = request.query
        self.page_times.append(asyncio.get_running_loop().time())
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        photo = self._photo(q.get("mission", ""), q.get("roll", ""), q.get("frame", ""))
        self.requests["page"] += 1
        if photo is None or photo.nasa_id in self.broken_pages:
            return web.Response(text="<html><body><h1>Error</h1><p>No such photo in the database"
                                     "</p></body></html>", content_type="text/html")
        facts = _page_facts(photo)
        html = older_page(facts) if photo.nasa_id in self.older_markup else current_page(facts)
        return web.Response(text=html, content_type="text/html")

    async def _image(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        if any(tail.endswith(m + ".JPG") for m in self.missing_images):
            self.files.requests[tail] += 1
            return web.Response(status=404, text="Not Found")
        return await self.files.serve(request, tail)

    async def _camera(self, request: web.Request) -> web.StreamResponse:
        return await self.files.serve(request, f"camera/{request.match_info['name']}")

    async def _geotiff(self, request: web.Request) -> web.StreamResponse:
        return await self.files.serve(request, f"geotiff/{request.query.get('photo', '')}")

    def answer(self, query: str, returns: str) -> Any:
        """The JSON body for one query (see the module docstring)."""
        parts = query.split("|") if query else []
        if len(parts) % 4:
            return {"error": f"query must be table|field|operator|value tuples: {query!r}"}
        conditions = [tuple(parts[i:i + 4]) for i in range(0, len(parts), 4)]
        ret_parts = returns.split("|") if returns else []
        if not ret_parts or len(ret_parts) % 2:
            return {"error": "return must be table|field pairs"}
        fields = [(ret_parts[i], ret_parts[i + 1]) for i in range(0, len(ret_parts), 2)]
        for _t, _f, op, _v in conditions:
            if op not in ("eq", "ne", "lt", "le", "gt", "ge", "like", "not like"):
                return {"error": f"unknown operator {op!r}"}
        tables = {t for t, *_ in conditions} | {t for t, _ in fields}
        rows: list[dict[str, str]] = []
        for photo in self.photos:
            per_table = {t: photo.table_rows(t) for t in tables}
            if any(not r for r in per_table.values()):
                continue  # inner join: a referenced table without a row drops the photo
            combos = [{t: r[0] for t, r in per_table.items()}]
            if "images" in tables:
                combos = [{**combos[0], "images": img} for img in per_table["images"]]
            for combo in combos:
                if all(_matches(combo[t].get(f), op, v) for t, f, op, v in conditions):
                    out = {f"{t}.{f}": site_number(combo[t].get(f)) for t, f in fields}
                    keys = list(out)
                    self._rng.shuffle(keys)  # Perl hash order
                    rows.append({k: out[k] for k in keys})
        return rows or {"result": NO_RECORDS}

    async def _api(self, request: web.Request) -> web.Response:
        args = dict(request.query)
        if request.method == "POST":
            args.update({k: str(v) for k, v in (await request.post()).items()})
        self.requests["api"] += 1
        if args.get("key") not in self.api_keys:
            return web.json_response({"error": "Invalid API key"})
        self.queries.append(args.get("query", ""))
        return web.json_response(self.answer(args.get("query", ""), args.get("return", "")))


def reference_photos() -> list[EolPhoto]:
    """Photos from the real rows quoted in the reference (§1.5, §5), two sizes each."""
    def photo(mission: str, frame: str, frames: dict[str, Any] | None, w: int, h: int,
              geotiff: bool = False) -> EolPhoto:
        name = f"{mission}-E-{frame}.JPG"
        return EolPhoto(mission, "E", frame, frames, geotiff=geotiff, images=[
            {"directory": f"ESC/large/{mission}", "filename": name, "width": w, "height": h},
            {"directory": f"ESC/small/{mission}", "filename": name, "width": 640, "height": round(640 * h / w)},
        ])

    return [
        photo("ISS006", "44608", {"pdate": "20030411", "ptime": "031456", "lat": 9.5, "lon": -80.0,
                                  "nlat": 10.0, "nlon": -78.6, "azi": 300, "elev": -55, "cldp": 10,
                                  "camera": "E4", "film": "3060E", "fclt": 58, "tilt": "23",
                                  "geon": "PANAMA", "feat": "PANAMA CITY & COLON AT NIGHT"}, 3032, 2064),
        photo("ISS026", "16456", {"pdate": "20110109", "ptime": "023609", "lat": 9.0, "lon": -79.6,
                                  "nlat": 10.4, "nlon": -79.2, "azi": 248, "elev": -48, "cldp": 50,
                                  "camera": "N5", "film": "4256E", "fclt": 180, "tilt": "25",
                                  "geon": "PANAMA", "feat": "PANAMA CITY AREA AT NIGHT"}, 4256, 2913,
              geotiff=True),
        photo("ISS001", "6000", {"pdate": "20001229", "ptime": "140051", "lat": 51.5, "lon": 0.5,
                                 "nlat": 51.7, "nlon": 6.0, "azi": 201, "elev": 22, "cldp": 10,
                                 "camera": "E2", "film": "3060E", "fclt": 400, "tilt": "HO",
                                 "geon": "UK-ENGLAND", "feat": "EAST LONDON,THAMES RIVER"}, 3060, 2036),
        photo("ART002", "168", None, 5568, 3712),  # new mission: only in images
    ]


_CAMERAS = {"E2": "Kodak DCS460 Electronic Still Camera", "E4": "Kodak DCS760c Electronic Still Camera",
            "N5": "Nikon D3S Electronic Still Camera"}
_SENSORS = {"3060E": "3060 x 2036 pixel CCD, RGBG array",
            "4256E": "4256 x 2832 pixel CMOS sensor, 36.0mm x 23.9mm, total pixels: 12.87 million,"
                     " Nikon FX format"}


def _page_facts(photo: EolPhoto) -> PagePhoto:
    f = photo.frames or {}

    def point(lat: Any, lon: Any) -> str:
        if lat is None or lon is None:
            return ""
        return (f"{abs(float(lat)):.1f}&deg; {'N' if float(lat) >= 0 else 'S'}, "
                f"{abs(float(lon)):.1f}&deg; {'E' if float(lon) >= 0 else 'W'}")

    sizes = tuple((int(i["width"]), int(i["height"])) for i in photo.images)
    camera = _CAMERAS.get(str(f.get("camera", "")), str(f.get("camera", "")))
    film = str(f.get("film", ""))
    return PagePhoto(
        camera=camera, film=f"{film}: {_SENSORS.get(film, 'film')}",
        mission=photo.mission, roll=photo.roll, frame=photo.frame,
        date=f"{f['pdate'][:4]}.{f['pdate'][4:6]}.{f['pdate'][6:]}" if f.get("pdate") else "2026.01.01",
        time=f"{f['ptime'][:2]}:{f['ptime'][2:4]}:{f['ptime'][4:]}" if f.get("ptime") else "00:00:00",
        nadir=point(f.get("nlat"), f.get("nlon")), center=point(f.get("lat"), f.get("lon")),
        sun_elevation=str(f.get("elev", "")), sun_azimuth=str(f.get("azi", "")), cloud=str(f.get("cldp", "")),
        focal_mm=str(f.get("fclt", "")), tilt=str(f.get("tilt", "")), geon=str(f.get("geon", "")),
        features=str(f.get("feat", "")).replace("&", "&amp;"), sizes=sizes, geotiff=photo.geotiff,
        metadata_dir=f"/SearchPhotos/CameraMetadata/{photo.mission}",
    )


def _camera_text(photo: EolPhoto) -> str:
    f = photo.frames or {}
    return (f"Camera file for {photo.nasa_id}\nDateTimeOriginal: {f.get('pdate', '')} {f.get('ptime', '')}\n"
            f"FocalLength: {f.get('fclt', '')} mm\nExposureTime: 1/250\nFNumber: 5.6\n")


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 90, 160)).save(out, format="TIFF")
    return out.getvalue()


def synthetic_photos(count: int, mission: str = "ISS073") -> list[EolPhoto]:
    """``count`` catalogued night photos over Panama, one day apart from 2025-01-01."""
    from datetime import date, timedelta

    out = []
    for i in range(count):
        day = date(2025, 1, 1) + timedelta(days=i % 300)
        frame = str(100000 + i)
        name = f"{mission}-E-{frame}.JPG"
        out.append(EolPhoto(mission, "E", frame, {
            "pdate": day.strftime("%Y%m%d"), "ptime": "031456", "lat": 9.0 + (i % 10) / 10, "lon": -79.5,
            "nlat": 10.0, "nlon": -78.6, "azi": 300, "elev": -50, "cldp": 10, "camera": "N5",
            "film": "4256E", "fclt": 180, "tilt": "25", "geon": "PANAMA", "feat": "PANAMA CITY AT NIGHT",
        }, images=[{"directory": f"ESC/large/{mission}", "filename": name, "width": 4256, "height": 2832}]))
    return out
