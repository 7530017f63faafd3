"""Slooh picture dates (``shared/reference/slooh.md`` §6): ``displayDate`` + ``displayTime`` → UTC.

``displayDate`` comes AP-style ("Feb. 7, 2026", "Sept. 3, 2025", "March 9, 2026") or in
full ("February 7, 2026") or ISO ("2026-02-07"); ``displayTime`` is "20:15:30 UTC" or
"20:15 UTC". ``imageTimestamp`` (Unix seconds) is preferred when present.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for name in names}
_TEXT_DATE = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*UTC)?$", re.I)


def parse_display_date(text: str) -> tuple[int, int, int]:
    """(year, month, day). Raises ValueError naming the text."""
    value = " ".join(text.split())
    if m := _ISO_DATE.match(value):
        return int(m[1]), int(m[2]), int(m[3])
    if (m := _TEXT_DATE.match(value)) and m[1].lower() in _MONTHS:
        return int(m[3]), _MONTHS[m[1].lower()], int(m[2])
    raise ValueError(f"unrecognised displayDate {text!r}")


def picture_time(picture: dict[str, Any]) -> datetime | None:
    """The capture time (UTC) of a picture record, or None when it has no usable date."""
    stamp = picture.get("imageTimestamp")
    try:
        if stamp not in (None, "", 0, "0"):
            return datetime.fromtimestamp(int(float(str(stamp))), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        year, month, day = parse_display_date(str(picture.get("displayDate") or ""))
    except ValueError:
        return None
    hour = minute = second = 0
    if m := _TIME.match(str(picture.get("displayTime") or "").strip()):
        hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
