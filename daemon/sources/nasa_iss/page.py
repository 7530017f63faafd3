"""Parsing a ``photo.pl`` page of eol.jsc.nasa.gov with selectolax (lexbor).

Two markups carry the same labels (``shared/reference/nasa_eol.md`` §2.1–2.2):

- table rows ``<tr><td><b>LABEL</b></td> … <td class="table_pad"> VALUE </td></tr>``;
- text nodes ``<em><b>LABEL:</b></em> VALUE`` (the value is the text after ``</em>``), and
  the older ``<td><div><em><b>LABEL:</b></em></div></td> <td>VALUE</td>``.

Every label found in either markup goes into one ``label → text`` map, from which the
typed fields are read. A missing field is None and named in :attr:`PhotoPage.missing`
(the caller logs a warning); a page without a photo ID and date is :class:`PageError`.
Units: degrees, km, nautical miles (1 nmi = 1.852 km), mm, percent, pixels, GMT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from selectolax.lexbor import LexborHTMLParser, LexborNode

from daemon.errors import SourceError

NMI_KM = 1.852
_NO_GEOTIFF = re.compile(r"no\s+geotiff\s+is\s+available\s+for\s+this\s+photo")
_POINT = re.compile(r"(-?[\d.]+)\s*°?\s*([NS])\s*,\s*(-?[\d.]+)\s*°?\s*([EW])", re.I)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?|-?\.\d+")
_PIXELS = re.compile(r"(\d{3,5})\s*x\s*(\d{3,5})\s*pixels")  # on lower-cased text
_KM = re.compile(r"\(([\d.,]+)\s*km\)", re.I)
_NMI = re.compile(r"([\d.,]+)\s*nautical miles", re.I)
_ONCLICK_PATH = re.compile(r"\(\s*['\"]([^'\"]+)['\"]\s*\)")


class PageError(SourceError, ValueError):
    """Not a photo page (removed photo, error page, garbled HTML): the item fails with this."""


@dataclass(frozen=True)
class PhotoPage:
    """What a ``photo.pl`` page says about one photo; None where the page does not say."""

    nasa_id: str
    date: date | None
    time_gmt: time | None
    nadir_lat: float | None
    nadir_lon: float | None
    center_lat: float | None
    center_lon: float | None
    nadir_to_center: str | None  # as printed (distance; unit wording varies)
    nadir_to_center_km: float | None
    altitude_km: float | None
    altitude_nmi: float | None
    sun_elevation_deg: float | None
    sun_azimuth_deg: float | None
    cloud_cover_pct: float | None
    camera: str | None
    focal_length_mm: float | None
    camera_tilt: str | None
    film_code: str | None
    film_description: str | None
    geographic_name: str | None
    features: str | None
    image_sizes_px: tuple[tuple[int, int], ...]
    geotiff_available: bool
    camera_metadata_path: str | None  # site-relative, e.g. /…/ISS073-E-899142.txt
    missing: tuple[str, ...] = field(default=())


def _clean(text: str | None) -> str:
    return " ".join((text or "").replace("\xa0", " ").split())


def _label(text: str) -> str:
    return _clean(text).rstrip(":").strip().lower()


def _after_em(em: LexborNode) -> str:
    """Text following ``</em>`` up to the next element that starts a new label."""
    parts: list[str] = []
    node = em.next
    while node is not None and node.tag in ("-text", "span", "a", "sup"):
        parts.append(node.text(deep=True) or "")
        node = node.next
    return _clean("".join(parts))


def _enclosing_td(node: LexborNode) -> LexborNode | None:
    parent = node.parent
    while parent is not None and parent.tag not in ("td", "tr", "table", "body"):
        parent = parent.parent
    return parent if parent is not None and parent.tag == "td" else None


def _last_td_after(cell: LexborNode) -> LexborNode | None:
    found = None
    sibling = cell.next
    while sibling is not None:
        if sibling.tag == "td":
            found = sibling
        sibling = sibling.next
    return found


def _labelled_values(tree: LexborHTMLParser) -> dict[str, str]:
    """One pass over the ``<b>`` labels: ``label → value`` from either markup."""
    values: dict[str, str] = {}
    for bold in tree.css("b"):
        label = _label(bold.text(deep=True))
        if not label or label in values:
            continue
        value = ""
        parent = bold.parent
        if parent is not None and parent.tag == "em":
            value = _after_em(parent)
        if not value:  # table markup: the value is the row's last cell
            cell = _enclosing_td(bold)
            value_cell = _last_td_after(cell) if cell is not None else None
            value = _clean(value_cell.text(deep=True)) if value_cell is not None else ""
        if value:
            values[label] = value
    return values


def _point(text: str | None) -> tuple[float | None, float | None]:
    match = _POINT.search(text or "")
    if not match:
        return None, None
    lat = float(match.group(1)) * (-1 if match.group(2).upper() == "S" else 1)
    lon = float(match.group(3)) * (-1 if match.group(4).upper() == "W" else 1)
    return lat, lon


def _first_number(text: str | None) -> float | None:
    match = _NUMBER.search((text or "").replace(",", ""))
    return float(match.group(0)) if match else None


def _get(values: dict[str, str], *labels: str) -> str | None:
    for label in labels:
        if values.get(label):
            return values[label]
    return None


def parse_photo_page(html: str) -> PhotoPage:
    """Parse one ``photo.pl`` page.

    Raises:
        PageError: no photo ID or date on the page (removed photo, error page, not HTML).
    """
    tree = LexborHTMLParser(html)
    values = _labelled_values(tree)
    body_text = (tree.body.text(deep=True) if tree.body is not None else "").replace("\xa0", " ").lower()
    nasa_id = _get(values, "nasa photo id")
    date_text = _get(values, "date taken")
    if not nasa_id or not date_text:
        hint = "photo removed" if "removed" in body_text else "no photo ID or date on the page"
        raise PageError(f"not a photo page ({hint})")
    missing: list[str] = []

    def need(name: str, value: object) -> None:
        if value is None:
            missing.append(name)

    try:
        taken = datetime.strptime(date_text.strip(), "%Y.%m.%d").date()
    except ValueError:
        taken = None
    need("date", taken)
    time_match = re.search(r"(\d{1,2}):(\d{2}):(\d{2})", _get(values, "time taken") or "")
    time_gmt = None
    if time_match:
        hour, minute, second = (int(g) for g in time_match.groups())
        if hour < 24 and minute < 60 and second < 60:
            time_gmt = time(hour, minute, second)
    need("time_gmt", time_gmt)
    nadir = _point(_get(values, "spacecraft nadir point"))
    need("nadir_point", nadir[0])
    center = _point(_get(values, "photo center point"))
    need("center_point", center[0])
    to_center = _get(values, "nadir to photo center")
    altitude_text = _get(values, "spacecraft altitude") or ""
    km = _KM.search(altitude_text)
    nmi = _NMI.search(altitude_text)
    altitude_nmi = float(nmi.group(1).replace(",", "")) if nmi else None
    altitude_km = float(km.group(1).replace(",", "")) if km else (
        round(altitude_nmi * NMI_KM, 1) if altitude_nmi is not None else None)
    need("altitude", altitude_km)
    sun_elevation = _first_number(_get(values, "sun elevation angle", "sun elevation"))
    sun_azimuth = _first_number(_get(values, "sun azimuth"))
    need("sun_elevation", sun_elevation)
    need("sun_azimuth", sun_azimuth)
    cloud = _first_number(_get(values, "cloud cover percentage", "cloud cover"))
    need("cloud_cover", cloud)
    camera = _get(values, "camera")
    need("camera", camera)
    focal = _first_number(_get(values, "focal length"))
    need("focal_length", focal)
    tilt = _get(values, "camera tilt")
    fmt = _get(values, "format")
    film_code, _, film_text = (fmt or "").partition(":")
    need("format", fmt)
    sizes = [tuple(int(v) for v in m.groups()) for m in
             (_PIXELS.search((h.text(deep=True) or "").lower()) for h in tree.css("#myModal1 h5"))
             if m]
    if not sizes and "pixels" in body_text:
        sizes = [(int(w), int(h)) for w, h in _PIXELS.findall(body_text)]
    need("image_sizes", sizes or None)
    metadata_path = None
    for button in tree.css("input[type=button], button"):
        label = (button.attributes.get("value") or button.text(deep=True) or "").lower()
        if "camera metadata" in label:
            found = _ONCLICK_PATH.search(button.attributes.get("onclick") or "")
            metadata_path = found.group(1) if found else None
            break
    need("camera_metadata", metadata_path)
    return PhotoPage(
        nasa_id=nasa_id.strip().upper(), date=taken, time_gmt=time_gmt,
        nadir_lat=nadir[0], nadir_lon=nadir[1], center_lat=center[0], center_lon=center[1],
        nadir_to_center=to_center, nadir_to_center_km=_first_number(to_center),
        altitude_km=altitude_km, altitude_nmi=altitude_nmi,
        sun_elevation_deg=sun_elevation, sun_azimuth_deg=sun_azimuth, cloud_cover_pct=cloud,
        camera=camera, focal_length_mm=focal, camera_tilt=tilt,
        film_code=film_code.strip() or None if fmt else None,
        film_description=film_text.strip() or None,
        geographic_name=_get(values, "country or geographic name"), features=_get(values, "features"),
        image_sizes_px=tuple(dict.fromkeys((s[0], s[1]) for s in sizes)),
        geotiff_available=_NO_GEOTIFF.search(body_text) is None,
        camera_metadata_path=metadata_path, missing=tuple(missing),
    )
