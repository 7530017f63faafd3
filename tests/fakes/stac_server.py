"""An imitation of Earth Search v1 (stac-server) and of the S3 host of its COGs, on 127.0.0.1.

Quirks reproduced (``../shared/reference/stac_sentinel2.md`` §1.2–1.3, §7):
- root catalog with two ``search`` links (GET and POST); conformance without filter classes;
- ``/search`` takes a POST JSON body or a GET query string; ``bbox`` and ``intersects``
  together → 400; ``datetime`` must be full RFC 3339 ends (``..`` open), a date-only value →
  400 ``{"code": "BadRequest", "description": …}``; ``limit`` default 10, ≤ 0 → 400;
  ``query`` operators ``eq neq lt lte gt gte in``; ``sortby`` fields must be document paths
  (``properties.eo:cloud_cover``) → else 400; ``filter`` silently ignored; default order
  datetime desc then id desc;
- answers ``application/geo+json`` with ``context``, ``numberMatched``, ``numberReturned``,
  a ``next`` link on every non-empty page (POST: ``method``, ``merge: false``, the whole
  body plus an opaque ``next`` token; GET: the href with every parameter and ``next=``),
  then an empty page;
- the COG host (``/cogs/…``) serves files with ``HEAD`` and ``Range`` (206,
  ``Content-Range``), 404 for missing files, counting requests per file.

``latency_s`` delays every answer (benchmarks); ``unavailable`` makes the next n searches 503.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
GEOJSON = "application/geo+json; charset=utf-8"


def _bad(description: str) -> web.Response:
    return web.json_response({"code": "BadRequest", "description": description}, status=400)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _interval(text: str) -> tuple[datetime | None, datetime | None]:
    parts = text.split("/")
    if len(parts) == 1:
        if not RFC3339.match(parts[0]):
            raise ValueError(f"Invalid datetime: {text}")
        return _when(parts[0]), _when(parts[0])
    if len(parts) != 2 or parts == ["..", ".."] or parts == ["", ""]:
        raise ValueError(f"Invalid datetime interval: {text}")
    ends: list[datetime | None] = []
    for p in parts:
        if p in ("..", ""):
            ends.append(None)
        elif RFC3339.match(p):
            ends.append(_when(p))
        else:
            raise ValueError(f"Invalid datetime: {p}")
    return ends[0], ends[1]


OPS = {"eq": lambda a, b: a == b, "neq": lambda a, b: a != b, "lt": lambda a, b: a < b,
       "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
       "in": lambda a, b: a in b}


class StacSite:
    """State: ``items`` (STAC item dicts), ``cog_dir`` (files under ``/cogs/``), counters."""

    def __init__(self, cog_dir: Path) -> None:
        self.items: list[dict[str, Any]] = []
        self.cog_dir = cog_dir
        self.searches: list[dict[str, Any]] = []  # every search request's parameters, in order
        self.file_requests: Counter[str] = Counter()  # GETs per file (ranges included)
        self.latency_s = 0.0
        self.unavailable = 0
        self.cmr_style = False  # CMR-STAC: GET next links even after a POST, only ``context`` counts
        self.edl_user, self.edl_password, self.edl_token = "scientist", "s3cret", "edl-token-0123456789"
        self.token_requests = 0
        self.refused = 0  # protected requests without the token

    def _match(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.items
        if params.get("collections"):
            found = [i for i in found if i.get("collection") in params["collections"]]
        if params.get("bbox"):
            w, s, e, n = params["bbox"]
            found = [i for i in found if not (i["bbox"][2] < w or i["bbox"][0] > e
                                              or i["bbox"][3] < s or i["bbox"][1] > n)]
        if params.get("datetime"):
            start, end = _interval(params["datetime"])
            found = [i for i in found if (start is None or _when(i["properties"]["datetime"]) >= start)
                     and (end is None or _when(i["properties"]["datetime"]) <= end)]
        for name, ops in (params.get("query") or {}).items():
            for op, value in ops.items():
                found = [i for i in found if name in i["properties"] and OPS[op](i["properties"][name], value)]
        found = sorted(found, key=lambda i: (i["properties"]["datetime"], i["id"]), reverse=True)
        for rule in reversed(params.get("sortby") or []):
            field = rule["field"]
            if not (field.startswith("properties.") or field in ("id", "collection")):
                raise ValueError(f"No mapping found for [{field}] in order to sort on")
            prop = field.removeprefix("properties.")
            found = sorted(found, key=lambda i, p=prop: i["properties"].get(p, i.get(p)),
                           reverse=rule.get("direction") == "desc")
        return found

    async def search(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.latency_s)
        if self.unavailable > 0:
            self.unavailable -= 1
            return web.Response(status=503, text="Service Unavailable")
        if request.method == "POST":
            params = await request.json()
        else:
            q = request.query
            params = {k: v for k, v in q.items()}
            for key in ("bbox", "collections"):
                if key in params:
                    params[key] = [float(x) if key == "bbox" else x for x in params[key].split(",")]
            for key in ("query", "intersects"):
                if key in params:
                    params[key] = json.loads(params[key])
            if "limit" in params:
                params["limit"] = int(params["limit"])
            if "sortby" in params:
                params["sortby"] = [{"field": f.lstrip("+-"),
                                     "direction": "desc" if f.startswith("-") else "asc"}
                                    for f in params["sortby"].split(",")]
        self.searches.append(params)
        if params.get("bbox") and params.get("intersects"):
            return _bad("Expected bbox OR intersects, not both")
        limit = params.get("limit", 10)
        if not isinstance(limit, int) or limit <= 0:
            return _bad("Invalid limit value, must be a number between 1 and 10000")
        try:
            found = self._match(params)
        except ValueError as exc:
            return _bad(str(exc))
        offset = int(base64.urlsafe_b64decode(params["next"]).decode()) if params.get("next") else 0
        page = found[offset:offset + limit]
        links: list[dict[str, Any]] = [{"rel": "root", "type": "application/json",
                                        "href": str(request.url.origin())}]
        if page:
            token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            if request.method == "POST" and not self.cmr_style:
                body = {k: v for k, v in params.items() if k != "next"}
                links.insert(0, {"rel": "next", "title": "Next page of Items", "method": "POST",
                                 "type": "application/geo+json", "href": str(request.url.with_query(None)),
                                 "merge": False, "body": {**body, "next": token}})
            else:
                query = {k: (json.dumps(v) if isinstance(v, dict | list) and k not in ("bbox", "collections")
                             else ",".join(map(str, v)) if isinstance(v, list) else str(v))
                         for k, v in params.items() if k not in ("next", "sortby")}
                links.insert(0, {"rel": "next", "title": "Next page of Items", "type": "application/geo+json",
                                 "href": str(request.url.with_query({**query, "next": token}))})
        answer = {"type": "FeatureCollection", "stac_version": "1.0.0", "stac_extensions": [],
                  "context": {"limit": limit, "matched": len(found), "returned": len(page)},
                  "numberMatched": len(found), "numberReturned": len(page), "features": page, "links": links}
        if self.cmr_style:
            for key in ("numberMatched", "numberReturned", "stac_version", "stac_extensions"):
                answer.pop(key)
            answer["context"].pop("matched")
        return web.Response(text=json.dumps(answer), content_type="application/geo+json", charset="utf-8")

    async def root(self, request: web.Request) -> web.Response:
        base = str(request.url.origin())
        return web.json_response({
            "type": "Catalog", "id": "earth-search-aws", "stac_version": "1.0.0",
            "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
                           "https://api.stacspec.org/v1.0.0/item-search#query",
                           "https://api.stacspec.org/v1.0.0/item-search#sort"],
            "links": [{"rel": "search", "type": "application/geo+json", "method": m, "href": f"{base}/search"}
                      for m in ("GET", "POST")]})

    async def cog(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"]
        path = (self.cog_dir / name).resolve()
        if request.method == "GET":
            self.file_requests[name] += 1
        await asyncio.sleep(self.latency_s)
        if not path.is_relative_to(self.cog_dir.resolve()) or not path.is_file():
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>",
                                content_type="application/xml")
        return web.FileResponse(path, headers={"Content-Type": "image/tiff; application=geotiff; "
                                                               "profile=cloud-optimized"})

    async def edl_token_endpoint(self, request: web.Request) -> web.Response:
        """Earthdata Login's ``find_or_create_token``: HTTP basic auth → a bearer token."""
        expected = "Basic " + base64.b64encode(f"{self.edl_user}:{self.edl_password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_credentials"}, status=401)
        self.token_requests += 1
        return web.json_response({"access_token": self.edl_token, "token_type": "Bearer",
                                  "expiration_date": "12/31/2099"})

    async def protected(self, request: web.Request) -> web.StreamResponse:
        """LP DAAC's protected host: no bearer token → 401 (EDL's login in reality); with it, a
        redirect to the file (a signed S3 URL in reality)."""
        if request.headers.get("Authorization") != f"Bearer {self.edl_token}":
            self.refused += 1
            return web.Response(status=401, text="Unauthorized")
        raise web.HTTPFound(f"/cogs/{request.match_info['path']}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/edl/token", self.edl_token_endpoint)
        app.router.add_get("/protected/{path:.+}", self.protected)
        app.router.add_get("/", self.root)
        app.router.add_route("*", "/search", self.search)
        app.router.add_get("/cogs/{path:.+}", self.cog)
        return app
