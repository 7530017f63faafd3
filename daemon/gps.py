"""Where and when an uploaded drone image was taken: EXIF GPS tags and the camera's XMP.

Read with Pillow (``Image.getexif`` for the EXIF 2.32 GPS IFD, tag 0x8825, and the Exif IFD,
0x8769; ``Image.getxmp`` for XMP, parsed safely with defusedxml). Without decoding pixels.

- Latitude / longitude: ``GPSLatitude`` / ``GPSLongitude`` (degrees, minutes, seconds as
  rationals) signed by ``GPSLatitudeRef`` ``S`` / ``GPSLongitudeRef`` ``W`` → decimal degrees
  (WGS84, EXIF 2.32 §4.6.6).
- Altitude: ``GPSAltitude`` (m) with ``GPSAltitudeRef`` 1 = below sea level → negative.
- Relative altitude (m above the take-off point) and gimbal angles (degrees) from the XMP of
  DJI cameras (``drone-dji:RelativeAltitude``, ``GimbalPitchDegree``, ``GimbalYawDegree``,
  ``GimbalRollDegree``, ``FlightYawDegree``); the local names are looked up in any
  namespace, so other makers using the same names are read too.
- Capture time (UTC): ``DateTimeOriginal`` with ``OffsetTimeOriginal``; without an offset,
  the GPS clock (``GPSDateStamp`` + ``GPSTimeStamp``, UTC by definition); else unknown.

A value that is absent, malformed or out of range is ``None`` — never 0.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
LAT_REF, LAT, LON_REF, LON, ALT_REF, ALT, GPS_TIME, GPS_DATE = 1, 2, 3, 4, 5, 6, 7, 29
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
XMP_FIELDS = {"RelativeAltitude": "relative_altitude_m", "GimbalPitchDegree": "gimbal_pitch_deg",
              "GimbalYawDegree": "gimbal_yaw_deg", "GimbalRollDegree": "gimbal_roll_deg",
              "FlightYawDegree": "flight_yaw_deg"}
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class ImageGps:
    """Position and capture time of one image; every field None when unknown."""

    latitude_deg: float | None = None
    longitude_deg: float | None = None
    altitude_m: float | None = None  # above mean sea level (negative below)
    relative_altitude_m: float | None = None  # above the take-off point
    gimbal_pitch_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    captured_at: str | None = None  # UTC, ``YYYY-MM-DDTHH:MM:SSZ``

    def as_dict(self) -> dict[str, Any]:
        """The fields as stored under an item's ``metadata.gps``."""
        return asdict(self)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _dms(value: Any, ref: Any, negative: str, limit: float) -> float | None:
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None or p < 0 for p in parts):
        return None
    degrees, minutes, seconds = (p for p in parts if p is not None)
    decimal = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if str(ref).strip().upper() == negative:
        decimal = -decimal
    return round(decimal, 7) if abs(decimal) <= limit else None


def _altitude(value: Any, ref: Any) -> float | None:
    metres = _number(value)
    if metres is None:
        return None
    below = ref in (1, b"\x01", "1") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
    return round(-metres if below else metres, 3)


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _captured(exif_ifd: Mapping[int, Any], gps: Mapping[int, Any]) -> str | None:
    original, offset = exif_ifd.get(DATETIME_ORIGINAL), exif_ifd.get(OFFSET_TIME_ORIGINAL)
    if isinstance(original, str) and isinstance(offset, str) and (m := _OFFSET.match(offset.strip())):
        try:
            local = datetime.strptime(original.strip()[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            local = None
        if local is not None:
            sign = -1 if m.group(1) == "-" else 1
            zone = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
            return _utc_text(local.replace(tzinfo=zone))
    date_stamp, time_stamp = gps.get(GPS_DATE), gps.get(GPS_TIME)
    if isinstance(date_stamp, str) and isinstance(time_stamp, tuple | list) and len(time_stamp) == 3:
        parts = [_number(v) for v in time_stamp]
        try:
            day = datetime.strptime(date_stamp.strip(), "%Y:%m:%d").replace(tzinfo=UTC)
        except ValueError:
            return None
        if all(p is not None for p in parts):
            hours, minutes, seconds = (p for p in parts if p is not None)
            return _utc_text(day + timedelta(hours=hours, minutes=minutes, seconds=seconds))
    return None


def _xmp_values(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (local name, value) in Pillow's nested XMP dict."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _xmp_values(value)
            else:
                yield key, value
    elif isinstance(node, list):
        for value in node:
            yield from _xmp_values(value)


def read_gps(path: Path) -> ImageGps:
    """The position and capture time written in ``path`` (JPEG or TIFF; blocking: run it in
    the CPU pool). A file without them, or one Pillow cannot parse, gives all ``None``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                exif = image.getexif()
                gps, exif_ifd = exif.get_ifd(GPS_IFD), exif.get_ifd(EXIF_IFD)
                xmp = image.getxmp() if hasattr(image, "getxmp") else {}
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, Image.DecompressionBombError):
        return ImageGps()
    extra: dict[str, float] = {}
    for name, value in _xmp_values(xmp):
        field = XMP_FIELDS.get(name)
        if field is not None and field not in extra and (number := _number(value)) is not None:
            extra[field] = number
    return ImageGps(
        latitude_deg=_dms(gps.get(LAT), gps.get(LAT_REF), "S", 90),
        longitude_deg=_dms(gps.get(LON), gps.get(LON_REF), "W", 180),
        altitude_m=_altitude(gps.get(ALT), gps.get(ALT_REF)),
        captured_at=_captured(exif_ifd, gps),
        **extra,
    )


def with_overrides(found: ImageGps, user: Mapping[str, Any]) -> dict[str, Any]:
    """``found`` as a dict, each field replaced by the upload's JSON metadata when it names it
    (``latitude_deg`` or ``latitude``, ``longitude_deg`` or ``longitude``, ``altitude_m``,
    ``relative_altitude_m``, the gimbal fields, ``captured_at``): what the operator says wins."""
    merged = found.as_dict()
    aliases = {"latitude": "latitude_deg", "longitude": "longitude_deg"}
    for key, value in user.items():
        field = aliases.get(key, key)
        if field in merged and field != "captured_at":
            number = _number(value) if not isinstance(value, bool) else None
            if number is not None:
                merged[field] = number
    return merged
