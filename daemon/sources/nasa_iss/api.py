"""The PhotosDatabaseAPI of eol.jsc.nasa.gov: queries, response quirks, one row per photo.

Protocol (``shared/reference/nasa_eol.md`` §1): ``GET /SearchPhotos/PhotosDatabaseAPI/
PhotosDatabaseAPI.pl?query=…&return=…&key=…``. ``query`` is ``table|field|operator|value``
4-tuples joined by ``|`` (all ANDed; no OR, so a list of missions is one query each);
``return`` is ``table|field`` pairs; tables are inner-joined on (mission, roll, frame).
The answer is a JSON list of flat objects keyed ``"table.field"`` whose values are all
strings, in arbitrary key order, with decimals that may lose their leading zero (``".5"``,
``"-.3"``); ``images`` has one row per stored size, so a photo comes once per directory
(``ESC/large/…``, ``ESC/small/…``). No match is the object ``{"result": "SQL found no
records that match the specified criteria"}``; any other non-list body is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from daemon.errors import SourceError

API_PATH = "/SearchPhotos/PhotosDatabaseAPI/PhotosDatabaseAPI.pl"
NO_RECORDS = "SQL found no records that match the specified criteria"
OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "like", "not like"})
RETURN_FIELDS: tuple[tuple[str, str], ...] = tuple(
    [("frames", f) for f in ("mission", "roll", "frame", "pdate", "ptime", "lat", "lon", "nlat",
                             "nlon", "azi", "elev", "cldp", "camera", "film", "fclt", "tilt",
                             "geon", "feat")]
    + [("images", f) for f in ("directory", "filename", "width", "height")]
)
LARGE_DIRS = ("/large/", "/highres/")
SMALL_DIRS = ("/small/", "/lowres/")
_SAFE_VALUE = re.compile(r"^[^|]*$")


class ApiError(SourceError):
    """The API answered something other than a list of rows or the "no records" object (a
    wrong key included): the remote's answer, reported in one line like any SourceError."""


@dataclass(frozen=True)
class Condition:
    """One ``table|field|operator|value`` filter (values are case-insensitive on the server)."""

    table: str
    field: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r} (one of {sorted(OPERATORS)})")
        for part in (self.table, self.field, self.value):
            if not _SAFE_VALUE.match(part):
                raise ValueError(f"'|' is not allowed in a query part: {part!r}")


def build_query(conditions: Iterable[Condition]) -> str:
    """``table|field|op|value|…`` (lowercase names and operators, as the API requires)."""
    return "|".join(f"{c.table.lower()}|{c.field.lower()}|{c.op}|{c.value}" for c in conditions)


def build_return(fields: Iterable[tuple[str, str]] = RETURN_FIELDS) -> str:
    """``table|field|…`` for the ``return`` argument."""
    return "|".join(f"{t}|{f}" for t, f in fields)


def api_params(conditions: Sequence[Condition], api_key: str,
               fields: Iterable[tuple[str, str]] = RETURN_FIELDS) -> dict[str, str]:
    """Query-string arguments of one API call (the key is sent, never logged)."""
    return {"query": build_query(conditions), "return": build_return(fields), "key": api_key}


def photo_conditions(*, mission: str | None = None, since: date | None = None, until: date | None = None,
                     bbox: tuple[float, float, float, float] | None = None,
                     time_of_day: str = "any", image_size: str = "large") -> list[Condition]:
    """The conditions of one query: mission, GMT date window, photo-centre box, sun, size.

    ``bbox`` is (lat_min, lon_min, lat_max, lon_max) in degrees of the photo centre;
    ``time_of_day`` ``day`` / ``night`` filters on the sun elevation at the photo (> 0° / ≤ 0°).
    """
    out: list[Condition] = []
    if mission:
        out.append(Condition("frames", "mission", "eq", mission.upper()))
    if since:
        out.append(Condition("frames", "pdate", "ge", since.strftime("%Y%m%d")))
    if until:
        out.append(Condition("frames", "pdate", "le", until.strftime("%Y%m%d")))
    if bbox:
        lat_min, lon_min, lat_max, lon_max = bbox
        out += [Condition("frames", "lat", "ge", f"{lat_min:g}"),
                Condition("frames", "lat", "le", f"{lat_max:g}"),
                Condition("frames", "lon", "ge", f"{lon_min:g}"),
                Condition("frames", "lon", "le", f"{lon_max:g}")]
    if time_of_day == "day":
        out.append(Condition("frames", "elev", "gt", "0"))
    elif time_of_day == "night":
        out.append(Condition("frames", "elev", "le", "0"))
    out.append(Condition("images", "directory", "like", "*large*" if image_size == "large" else "*small*"))
    return out


def parse_response(body: Any) -> list[dict[str, str]]:
    """Rows of an API answer, values as stripped strings (None/absent → ``""``).

    Raises:
        ApiError: a non-list body other than the "no records" object (its message included).
    """
    if isinstance(body, list):
        rows = []
        for row in body:
            if not isinstance(row, dict):
                raise ApiError(f"unexpected row in API answer: {str(row)[:120]!r}")
            rows.append({str(k).strip().lower(): "" if v is None else str(v).strip() for k, v in row.items()})
        return rows
    if isinstance(body, dict):
        message = str(body.get("result") or body.get("error") or body)
        if "no records" in message.lower():
            return []
        raise ApiError(f"API error: {message[:300]}")
    raise ApiError(f"API answered {type(body).__name__}, not a list: {str(body)[:120]!r}")


def number(value: str | None) -> float | None:
    """``"-.3"`` → -0.3, ``".5"`` → 0.5, ``""`` / ``"NV"`` / None → None."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class ApiPhoto:
    """One photo from the API (angles in degrees, focal length in mm, cloud cover in %)."""

    mission: str
    roll: str
    frame: str
    pdate: date | None
    ptime: time | None
    lat: float | None  # photo centre
    lon: float | None
    nadir_lat: float | None  # spacecraft nadir
    nadir_lon: float | None
    sun_azimuth_deg: float | None
    sun_elevation_deg: float | None
    cloud_cover_pct: float | None
    camera: str
    film: str
    focal_length_mm: float | None
    tilt: str
    geographic_name: str
    features: str
    directory: str
    filename: str
    width_px: int | None
    height_px: int | None

    @property
    def nasa_id(self) -> str:
        """``MISSION-ROLL-FRAME``, e.g. ``ISS073-E-899142``."""
        return f"{self.mission}-{self.roll}-{self.frame}"

    @property
    def captured_at(self) -> datetime | None:
        """Photo date and time (GMT) as a naive UTC datetime, when both are known."""
        if self.pdate is None:
            return None
        return datetime.combine(self.pdate, self.ptime or time(0))


def _pdate(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:  # unknown parts are underscores ("2001____")
        return None


def _ptime(text: str) -> time | None:
    try:
        return datetime.strptime(text.zfill(6), "%H%M%S").time()
    except ValueError:
        return None


def _int(text: str) -> int | None:
    value = number(text)
    return int(value) if value is not None else None


def photo_from_row(row: dict[str, str]) -> ApiPhoto:
    """One row (``frames`` / ``nadir`` / ``images`` keys) as an :class:`ApiPhoto`.

    Raises:
        ApiError: the row has no mission, roll and frame.
    """
    def get(*keys: str) -> str:
        for key in keys:
            if row.get(key):
                return row[key]
        return ""

    mission = get("frames.mission", "images.mission", "nadir.mission").upper()
    roll = get("frames.roll", "images.roll", "nadir.roll").upper()
    frame = get("frames.frame", "images.frame", "nadir.frame").lstrip("0")
    filename = get("images.filename")
    if not (mission and roll and frame) and filename:  # e.g. only images|directory|filename returned
        parts = filename.rsplit(".", 1)[0].split("-")
        if len(parts) >= 3:
            mission, roll, frame = parts[0].upper(), parts[1].upper(), parts[2].split("_")[0]
    if not (mission and roll and frame):
        raise ApiError(f"row without mission/roll/frame: {sorted(row)}")
    return ApiPhoto(
        mission=mission, roll=roll, frame=frame,
        pdate=_pdate(get("frames.pdate", "nadir.pdate")), ptime=_ptime(get("frames.ptime", "nadir.ptime")),
        lat=number(get("frames.lat", "mlcoord.lat")), lon=number(get("frames.lon", "mlcoord.lon")),
        nadir_lat=number(get("frames.nlat", "nadir.lat")), nadir_lon=number(get("frames.nlon", "nadir.lon")),
        sun_azimuth_deg=number(get("frames.azi", "nadir.azi")),
        sun_elevation_deg=number(get("frames.elev", "nadir.elev")),
        cloud_cover_pct=number(get("frames.cldp", "nadir.cldp")),
        camera=get("frames.camera", "camera.camera"), film=get("frames.film"),
        focal_length_mm=number(get("frames.fclt", "camera.fclt")), tilt=get("frames.tilt"),
        geographic_name=get("frames.geon"), features=get("frames.feat"),
        directory=get("images.directory"), filename=filename,
        width_px=_int(get("images.width")), height_px=_int(get("images.height")),
    )


def one_per_photo(rows: Iterable[dict[str, str]], image_size: str = "large") -> list[ApiPhoto]:
    """Dedupe rows on (mission, roll, frame), keeping the row of the requested size.

    ``large`` prefers ``…/large/…`` then ``…/highres/…``; ``small`` prefers ``/small/`` then
    ``/lowres/``; a photo stored only in other sizes keeps its first row. Order: first seen.
    """
    wanted = LARGE_DIRS if image_size == "large" else SMALL_DIRS
    best: dict[tuple[str, str, str], tuple[int, ApiPhoto]] = {}
    for row in rows:
        photo = photo_from_row(row)
        directory = f"/{photo.directory.strip('/')}/".lower()
        rank = next((i for i, d in enumerate(wanted) if d in directory), len(wanted))
        key = (photo.mission, photo.roll, photo.frame)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, photo)
    return [photo for _, photo in best.values()]


def image_url(base_url: str, photo: ApiPhoto) -> str:
    """``{base}/DatabaseImages/{directory}/{filename}`` (§3.1)."""
    return f"{base_url.rstrip('/')}/DatabaseImages/{photo.directory.strip('/')}/{photo.filename}"


def page_url(base_url: str, photo: ApiPhoto) -> str:
    """The photo's ``photo.pl`` page (§2)."""
    return (f"{base_url.rstrip('/')}/SearchPhotos/photo.pl?mission={photo.mission}&roll={photo.roll}"
            f"&frame={photo.frame}")


def geotiff_url(base_url: str, nasa_id: str) -> str:
    """``GetGeotiff.pl?photo=ID`` (§2.3), saved as ``{ID}.tif``."""
    return f"{base_url.rstrip('/')}/SearchPhotos/GetGeotiff.pl?photo={nasa_id}"
