"""Source kind ``nasa_iss``: photos from the PhotosDatabaseAPI, enriched from ``photo.pl``.

Discovery queries the API (one query per mission and date window: conditions are ANDed,
there is no OR), keeps one row per photo in the requested size, and yields one item per
photo (key = NASA photo ID, e.g. ``ISS073-E-899142``). New photos only are enriched from
their ``photo.pl`` page (at most ``page_concurrency`` pages at once, through the shared
client's per-host limits): the page's fields go into the item's metadata, and the page
decides the two companion items — the camera metadata text (``camera_data/{ID}.txt``, key
``{ID}/camera``) and the GeoTIFF (``{ID}.tif`` beside the image, key ``{ID}/geotiff``) when
offered. A page that cannot be parsed fails that photo's item with the reason; a missing
field is None in the metadata plus one warning.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, ClassVar

import structlog

from daemon.config.settings import HostLimit
from daemon.http import HttpClient, HttpError
from daemon.sources.base import Source, require_range
from daemon.sources.nasa_iss.api import (
    API_PATH,
    ApiError,
    ApiPhoto,
    api_params,
    geotiff_url,
    image_url,
    one_per_photo,
    parse_response,
    photo_conditions,
)
from daemon.sources.nasa_iss.codes import camera_description, film_description
from daemon.sources.nasa_iss.config import NasaIssSourceConfig
from daemon.sources.nasa_iss.page import PageError, PhotoPage, parse_photo_page
from daemon.sources.nasa_iss.windows import AdaptiveWindows
from daemon.store.models import HTTP_ERROR, NewItem

log = structlog.get_logger("daemon.sources.nasa_iss")
PARSE_ERROR = "parse_error"
CAMERA_LAYOUT = "camera_data/{nasa_id}.txt"  # every photo's camera-metadata text, one folder


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → date. Raises ValueError with a one-line reason."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ValueError(f"not a date (want YYYY-MM-DD): {text!r}") from None


class NasaIssSource(Source):
    """``kind = "nasa_iss"`` (see the module docstring)."""

    kind: ClassVar[str] = "nasa_iss"
    config: NasaIssSourceConfig

    def __init__(self, name: str, config: NasaIssSourceConfig) -> None:
        super().__init__(name, config)

    # ------------------------------------------------------------------ listing
    async def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[NewItem]:
        """Photos of ``[since or now − lookback_days, until or today]`` (GMT photo dates)."""
        cfg = self.config
        today = now.astimezone(UTC).date()
        start = cfg.since or today - timedelta(days=cfg.lookback_days)
        end = min(cfg.until or today, today)
        async for item in self._photos(start, end, http):
            yield item

    async def backfill(self, since: str | None, until: str | None, http: HttpClient) -> AsyncIterator[NewItem]:
        """Photos whose GMT date is in ``[since, until]`` (``YYYY-MM-DD``)."""
        since, until = require_range(self.kind, since, until)
        start, end = parse_day(since), parse_day(until)
        if end < start:
            raise ValueError(f"--until {until} is before --since {since}")
        async for item in self._photos(start, end, http):
            yield item

    def companion_keys(self, key: str) -> tuple[str, ...]:
        """The camera-metadata file and GeoTIFF items of photo ``key`` (see :meth:`_with_page`)."""
        return (f"{key}/camera", f"{key}/geotiff")

    def suggest_limits(self, http: HttpClient) -> None:
        """The site's pace (``requests_per_minute``, ``page_concurrency``) for pages and images."""
        self._polite(http)

    def _polite(self, http: HttpClient) -> None:
        cfg = self.config
        http.suggest_host_limit(cfg.base_url, HostLimit(requests_per_minute=cfg.requests_per_minute,
                                                        max_concurrent=cfg.page_concurrency))

    def from_rows(self, rows: Any) -> list[NewItem]:
        """A JSON list of PhotosDatabaseAPI rows (the seed's metadata file) → one item per photo.

        Raises:
            ValueError: not a list of row objects, or rows without mission/roll/frame.
        """
        if not isinstance(rows, list):
            raise ValueError("the file must hold a JSON list of API rows")
        try:
            return [self._item(p) for p in one_per_photo(parse_response(rows), self.config.image_size)]
        except ApiError as exc:
            raise ValueError(str(exc)) from None

    async def _photos(self, start: date, end: date, http: HttpClient) -> AsyncIterator[NewItem]:
        cfg = self.config
        self._polite(http)
        seen: set[str] = set()
        missions: list[str | None] = list(cfg.missions) or [None]
        for mission in missions:
            windows = AdaptiveWindows(start, end, cfg.window_days, cfg.max_window_days, cfg.max_rows_per_query)
            while (window := windows.next()) is not None:
                conditions = photo_conditions(mission=mission, since=window[0], until=window[1],
                                              bbox=cfg.bbox, time_of_day=cfg.time_of_day,
                                              image_size=cfg.image_size)
                rows = await self._query(http, conditions)
                windows.answered(len(rows))
                for photo in one_per_photo(rows, cfg.image_size):
                    if photo.nasa_id not in seen:
                        seen.add(photo.nasa_id)
                        yield self._item(photo)

    async def _query(self, http: HttpClient, conditions: list[Any]) -> list[dict[str, str]]:
        """One API call. Raises ApiError (error body) or HttpError; the key is never logged."""
        params = api_params(conditions, self.config.api_key)
        url = f"{self.config.base_url}{API_PATH}?" + "&".join(
            f"{k}={v}" for k, v in params.items())  # the site takes '|' and '*' unescaped
        body = await http.get_bytes(url, max_bytes=512 << 20)
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(f"API answered non-JSON ({len(body)} bytes)") from None
        rows = parse_response(data)
        log.info("nasa_api_rows", source=self.name, rows=len(rows), query=params["query"])
        return rows

    def _fields(self, photo: ApiPhoto) -> dict[str, Any]:
        taken = photo.captured_at or datetime(1900, 1, 1)
        return {"source": self.name, "year": f"{taken:%Y}", "month": f"{taken:%m}",
                "mission": photo.mission, "roll": photo.roll, "frame": photo.frame,
                "camera": photo.camera or "unknown", "nasa_id": photo.nasa_id,
                "filename": photo.filename or f"{photo.nasa_id}.JPG"}

    def _item(self, photo: ApiPhoto) -> NewItem:
        captured = (photo.captured_at or datetime(1900, 1, 1)).replace(tzinfo=UTC)
        metadata = {
            "kind": "iss_photo", "nasa_id": photo.nasa_id, "mission": photo.mission,
            "roll": photo.roll, "frame": photo.frame,
            "date": photo.pdate.isoformat() if photo.pdate else None,
            "time": photo.ptime.isoformat() if photo.ptime else None,
            "lat": photo.lat, "lon": photo.lon, "nadir_lat": photo.nadir_lat, "nadir_lon": photo.nadir_lon,
            "sun_azimuth_deg": photo.sun_azimuth_deg, "sun_elevation_deg": photo.sun_elevation_deg,
            "cloud_cover_pct": photo.cloud_cover_pct, "camera": photo.camera,
            "camera_description": camera_description(photo.camera), "film": photo.film,
            "film_description": film_description(photo.film),
            "focal_length_mm": photo.focal_length_mm, "tilt": photo.tilt,
            "geographic_name": photo.geographic_name, "features": photo.features,
            "directory": photo.directory, "width_px": photo.width_px, "height_px": photo.height_px,
        }
        return NewItem(key=photo.nasa_id, url=image_url(self.config.base_url, photo), captured_at=captured,
                       layout=self.config.layout, fields=self._fields(photo),
                       processors=tuple(self.config.processors), metadata=metadata)

    # ------------------------------------------------------------------ enrichment
    async def enrich(self, specs: list[NewItem], http: HttpClient) -> list[NewItem]:
        """Each new photo's page → metadata + companion items (camera text, GeoTIFF)."""
        self._polite(http)
        photos = [s for s in specs if s.metadata.get("kind") == "iss_photo"]
        gate = asyncio.Semaphore(self.config.page_concurrency)

        async def one(spec: NewItem) -> list[NewItem]:
            async with gate:
                return await self._enrich_one(spec, http)

        out: list[NewItem] = [s for s in specs if s.metadata.get("kind") != "iss_photo"]
        for group in await asyncio.gather(*(one(s) for s in photos)):
            out.extend(group)
        return out

    async def _enrich_one(self, spec: NewItem, http: HttpClient) -> list[NewItem]:
        meta = spec.metadata
        url = (f"{self.config.base_url}/SearchPhotos/photo.pl?mission={meta['mission']}"
               f"&roll={meta['roll']}&frame={meta['frame']}")
        with structlog.contextvars.bound_contextvars(source=self.name, key=spec.key):
            try:
                html = (await http.get_bytes(url, max_bytes=8 << 20)).decode("utf-8", errors="replace")
                page = parse_photo_page(html)
            except PageError as exc:
                log.warning("photo_page_unparseable", url=url, reason=str(exc))
                return [_failed(spec, PARSE_ERROR, f"photo page {url}: {exc}")]
            except HttpError as exc:
                log.warning("photo_page_failed", url=url, reason=str(exc))
                return [_failed(spec, HTTP_ERROR, f"photo page {url}: {exc}")]
            if page.missing:
                log.warning("photo_page_fields_missing", fields=list(page.missing))
        return self._with_page(spec, page)

    def _with_page(self, spec: NewItem, page: PhotoPage) -> list[NewItem]:
        cfg = self.config
        nasa_id = spec.key
        metadata = {**spec.metadata, **{
            "nadir_lat": page.nadir_lat if page.nadir_lat is not None else spec.metadata.get("nadir_lat"),
            "nadir_lon": page.nadir_lon if page.nadir_lon is not None else spec.metadata.get("nadir_lon"),
            "lat": page.center_lat if page.center_lat is not None else spec.metadata.get("lat"),
            "lon": page.center_lon if page.center_lon is not None else spec.metadata.get("lon"),
            "nadir_to_center": page.nadir_to_center, "altitude_km": page.altitude_km,
            "altitude_nmi": page.altitude_nmi, "page_camera": page.camera,
            "camera_tilt": page.camera_tilt, "film_code": page.film_code,
            "film_description": page.film_description or spec.metadata.get("film_description"),
            "image_sizes_px": [list(s) for s in page.image_sizes_px],
            "geotiff_available": page.geotiff_available,
            "camera_metadata_url": (f"{cfg.base_url}{page.camera_metadata_path}"
                                    if page.camera_metadata_path else None),
            "page_missing": list(page.missing),
        }}
        out = [replace(spec, metadata=metadata)]
        companion = {"kind": "iss_companion", "nasa_id": nasa_id}
        fields = {**spec.fields, "nasa_id": nasa_id}
        if cfg.camera_metadata and page.camera_metadata_path:
            out.append(NewItem(f"{nasa_id}/camera", f"{cfg.base_url}{page.camera_metadata_path}",
                               spec.captured_at, metadata={**companion, "role": "camera_metadata"},
                               layout=CAMERA_LAYOUT, fields=fields))
        if cfg.geotiff and page.geotiff_available:  # beside the photo, named after it
            out.append(NewItem(f"{nasa_id}/geotiff", geotiff_url(cfg.base_url, nasa_id), spec.captured_at,
                               metadata={**companion, "role": "geotiff"},
                               layout=geotiff_layout(cfg.layout), fields=fields))
        return out


def _failed(spec: NewItem, code: str, reason: str) -> NewItem:
    return replace(spec, error=(code, reason))


def geotiff_layout(photo_layout: str) -> str:
    """The GeoTIFF's template: the photo's folder, ``{nasa_id}.tif``."""
    folder = PurePosixPath(photo_layout).parent
    return f"{folder}/{{nasa_id}}.tif" if str(folder) != "." else "{nasa_id}.tif"
