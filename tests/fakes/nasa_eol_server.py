"""An imitation of eol.jsc.nasa.gov's PhotosDatabaseAPI (``shared/reference/nasa_eol.md`` §1, §8).

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

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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
        self._rng = random.Random(seed)

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_route("*", API_PATH, self._api)
        return app

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
    def photo(mission: str, frame: str, frames: dict[str, Any] | None, w: int, h: int) -> EolPhoto:
        name = f"{mission}-E-{frame}.JPG"
        return EolPhoto(mission, "E", frame, frames, [
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
                                  "geon": "PANAMA", "feat": "PANAMA CITY AREA AT NIGHT"}, 4256, 2913),
        photo("ISS001", "6000", {"pdate": "20001229", "ptime": "140051", "lat": 51.5, "lon": 0.5,
                                 "nlat": 51.7, "nlon": 6.0, "azi": 201, "elev": 22, "cldp": 10,
                                 "camera": "E2", "film": "3060E", "fclt": 400, "tilt": "HO",
                                 "geon": "UK-ENGLAND", "feat": "EAST LONDON,THAMES RIVER"}, 3060, 2036),
        photo("ART002", "168", None, 5568, 3712),  # new mission: only in images
    ]
