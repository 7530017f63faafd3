"""STAC item search (API spec v1.0 ``/search``) and the choice of one scene per step.

The search is a POST through the shared HTTP client (host limits, retries, ``Retry-After``);
paging follows ``rel: next`` links as pystac-client does: a link with ``method: POST`` sends
its ``body`` (merged into the request when ``merge`` is true), one without is a GET of
``href``; an empty page or a missing link ends it, and so does having as many items as the
server said matched (Earth Search emits a ``next`` link on every non-empty page, even the
last: that saves a request per search). Items are read with pystac (``Item.from_dict``); the CRS comes from
``proj:epsg`` / ``proj:code`` of the item or its assets (absent on CMR-STAC: then from the
file). Facts: ``../shared/reference/stac_sentinel2.md`` §1, §3, §4.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import pystac
import structlog
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from daemon.geo.bands import DataSource
from daemon.http import HttpClient

log = structlog.get_logger("daemon.geo")
MAX_PAGES = 100  # a search never pages further (a server looping on its next link)
# what an item's asset may point to: a STAC answer must never make GDAL open a local path or
# another /vsi… handler (bench/bench_geo.py widens it for its local-file case)
HREF_SCHEMES: tuple[str, ...] = ("https://", "http://")


class StacError(Exception):
    """The STAC API answered something that is not a search result (the reason)."""


@dataclass(frozen=True)
class Band:
    """One asset of a scene: ``href`` and how its digital numbers become reflectance
    (``DN × scale + offset``, from ``raster:bands``), ``nodata``."""

    href: str
    scale: float
    offset: float
    nodata: float


@dataclass(frozen=True)
class Scene:
    """A STAC item reduced to what a chip needs: ``when`` (UTC), ``cloud_cover`` (%, 100
    when the item does not say), ``epsg`` (None: read from the file), the footprint
    ``geometry`` (WGS84), ``bands`` by band name (``B04``) and the cloud ``mask`` asset."""

    id: str
    when: datetime
    cloud_cover: float
    epsg: int | None
    geometry: BaseGeometry
    bands: Mapping[str, Band]
    mask: Band | None

    def as_plan(self) -> dict[str, Any]:
        """JSON form, stored in the task's plan."""
        return {"id": self.id, "datetime": self.when.isoformat(), "cloud_cover": self.cloud_cover,
                "epsg": self.epsg, "bands": {k: vars(b) for k, b in self.bands.items()},
                "mask": vars(self.mask) if self.mask else None}


def _band(asset: pystac.Asset | None, source: DataSource, nodata: float | None = None) -> Band | None:
    if asset is None:
        return None
    raster = (asset.extra_fields.get("raster:bands") or [{}])[0]
    return Band(asset.href, float(raster.get("scale", source.default_scale)),
                float(raster.get("offset", source.default_offset)),
                float(raster.get("nodata", source.default_nodata if nodata is None else nodata)))


def _epsg(raw: Mapping[str, Any]) -> int | None:
    places = [raw.get("properties", {}), *raw.get("assets", {}).values()]
    for props in places:
        if isinstance(props.get("proj:epsg"), int):
            return int(props["proj:epsg"])
        code = props.get("proj:code")
        if isinstance(code, str) and code.upper().startswith("EPSG:") and code[5:].isdigit():
            return int(code[5:])
    return None


def to_scene(raw: Mapping[str, Any], bands: Sequence[str], source: DataSource) -> Scene:
    """A :class:`Scene` of a STAC item dict.

    Raises:
        StacError: not a STAC item, no datetime or geometry, or a needed band is missing.
    """
    try:
        item = pystac.Item.from_dict(dict(raw), preserve_dict=True, migrate=False)
    except Exception as exc:  # pystac raises several types on a malformed item
        raise StacError(f"not a STAC item: {exc}") from None
    if item.datetime is None or item.geometry is None:
        raise StacError(f"item {item.id}: no datetime or geometry")
    found: dict[str, Band] = {}
    for name in bands:
        try:
            band = _band(item.assets.get(source.asset_key(name, item.id)), source)
        except KeyError:
            band = None
        if band is None:
            raise StacError(f"item {item.id}: no asset for band {name}")
        if not band.href.startswith(HREF_SCHEMES):
            raise StacError(f"item {item.id}: band {name} is not at an http(s) URL ({band.href[:80]!r})")
        found[name] = band
    mask = (_band(item.assets.get(source.mask_asset), source, source.mask_nodata) if source.mask_asset
            else None)
    if mask is not None and not mask.href.startswith(HREF_SCHEMES):
        mask = None  # e.g. an s3:// requester-pays twin: read without a mask, never a local path
    cloud = item.properties.get("eo:cloud_cover")
    when = item.datetime if item.datetime.tzinfo else item.datetime.replace(tzinfo=None)
    return Scene(item.id, when, float(cloud) if isinstance(cloud, int | float) else 100.0, _epsg(raw),
                 shape(item.geometry), found, mask)


async def search(http: HttpClient, url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of one ``POST {url}/search`` with ``body``, following ``next`` links.

    Raises:
        HttpError: the API could not be reached or refused the request.
        StacError: an answer is not a FeatureCollection.
    """
    endpoint = url.rstrip("/") + "/search"
    items: list[dict[str, Any]] = []
    method, target, request = "POST", endpoint, body
    for _page in range(MAX_PAGES):
        raw = (await http.post_json(target, request) if method == "POST" else await http.get_bytes(target))
        try:
            page = json.loads(raw)
        except ValueError:
            raise StacError(f"{target}: the answer is not JSON") from None
        if not isinstance(page, dict) or not isinstance(page.get("features"), list):
            raise StacError(f"{target}: the answer is not a FeatureCollection")
        items += [f for f in page["features"] if isinstance(f, dict)]
        links = page.get("links")
        nxt = next((ln for ln in (links if isinstance(links, list) else [])
                    if isinstance(ln, dict) and ln.get("rel") == "next"), None)
        if not page["features"] or nxt is None or not isinstance(nxt.get("href"), str):
            return items
        if len(items) >= _matched(page):  # all matches in hand: skip the empty last page
            return items
        target = urljoin(endpoint, nxt["href"])
        if str(nxt.get("method", "GET")).upper() == "POST":
            method = "POST"
            link_body: dict[str, Any] = nxt["body"] if isinstance(nxt.get("body"), dict) else {}
            request = {**request, **link_body} if nxt.get("merge") else (link_body or request)
        else:
            method = "GET"
    log.warning("stac_paging_stopped", url=endpoint, pages=MAX_PAGES)
    return items


def _matched(page: Mapping[str, Any]) -> float:
    """The server's count of matches (``numberMatched`` or ``context.matched``), or infinity
    when it gives none (CMR-STAC gives only ``context``)."""
    context = page.get("context")
    for value in (page.get("numberMatched"), context.get("matched") if isinstance(context, dict) else None):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return float("inf")


def search_body(collections: Sequence[str], bbox: Sequence[float], first: date, last: date,
                cloud_max: float, limit: int, cmr: bool = False) -> dict[str, Any]:
    """The search of one bbox over [``first``, ``last``] (whole UTC days), scenes with
    ``eo:cloud_cover ≤ cloud_max``, least cloudy first. ``cmr``: NASA's CMR-STAC, whose
    ``query`` knows only ``lt``/``gt`` on ``eo:cloud_cover`` (``lt`` acting as ≤) and whose
    sort fields differ: no ``sortby`` (the choice is made here anyway)."""
    body: dict[str, Any] = {"collections": list(collections), "bbox": list(bbox),
                            "datetime": f"{first.isoformat()}T00:00:00Z/{last.isoformat()}T23:59:59Z",
                            "limit": limit}
    if cmr:
        body["query"] = {"eo:cloud_cover": {"lt": cloud_max}}
    else:
        body["query"] = {"eo:cloud_cover": {"lte": cloud_max}}
        body["sortby"] = [{"field": "properties.eo:cloud_cover", "direction": "asc"}]
    return body


def choose_scene(scenes: Sequence[Scene], step: date, tolerance_days: int, cloud_max: float,
                 footprint: Polygon, taken: set[str]) -> Scene | None:
    """The least cloudy scene within ``step`` ± ``tolerance_days`` whose footprint covers the
    chip's (ties: the nearer date, then the id); scenes in ``taken`` (used by another step
    of the same chip) are passed over, as InstaGeo does. None: no scene qualifies — the step
    is missing, never invented. The cloud limit is checked here too (a server may ignore
    ``query``)."""
    window = timedelta(days=tolerance_days)
    fits = [s for s in scenes
            if s.id not in taken and s.cloud_cover <= cloud_max
            and abs(s.when.date() - step) <= window and s.geometry.buffer(1e-9).covers(footprint)]
    if not fits:
        return None
    return min(fits, key=lambda s: (s.cloud_cover, abs(s.when.date() - step), s.id))
