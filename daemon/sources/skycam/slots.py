"""Slots of a sky camera: one image at fixed minutes of each wall-clock hour.

The URL of a slot comes from ``url_template`` (see :func:`render_url`). Slot times are
wall-clock times of the camera's ``timezone`` (the clock of its file names).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

KEY_FORMAT = "%Y-%m-%dT%H:%M"


def render_url(template: str, slot: datetime, current_year: int) -> str:
    """Fill ``{t:STRFTIME}`` and ``{year_dir}`` for one slot (wall-clock camera time).

    ``{year_dir}`` is ``"YYYY/"`` when the slot's year is before ``current_year`` (older
    years live in a folder per year on the camera's server), else ``""``.

    Raises:
        KeyError, ValueError: the template uses an unknown field or a bad format.
    """
    year_dir = f"{slot.year:04d}/" if slot.year < current_year else ""
    return template.format(t=slot, year_dir=year_dir)


def parse_bound(text: str, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DDTHH:MM`` (camera wall clock, or with an explicit offset) → aware datetime.

    Raises:
        ValueError: not an ISO 8601 date-time.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad timestamp {text!r}: use YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def slots_between(since: datetime, until: datetime, minutes: list[int]) -> Iterator[datetime]:
    """Valid slots ``since ≤ slot ≤ until`` (aware, in ``since``'s zone), in hourly steps.

    Wall-clock times that do not exist (a DST spring-forward gap) are skipped; a repeated
    hour (fall-back) yields each wall-clock slot once, since the file names repeat too.
    """
    zone = since.tzinfo
    assert zone is not None
    hour = since.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    end = until.astimezone(zone).replace(tzinfo=None)
    start = since.replace(tzinfo=None)
    while hour <= end:
        for minute in minutes:
            wall = hour.replace(minute=minute)
            if start <= wall <= end:
                slot = wall.replace(tzinfo=zone)
                if slot.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
                    yield slot
        hour += timedelta(hours=1)
