"""Slooh dates: AP-style, full and ISO displayDate, displayTime with/without seconds, epochs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from daemon.sources.slooh.dates import parse_display_date, picture_time


@pytest.mark.parametrize(("text", "expected"), [
    ("Feb. 7, 2026", (2026, 2, 7)), ("February 7, 2026", (2026, 2, 7)), ("Sept. 3, 2025", (2025, 9, 3)),
    ("March 9, 2026", (2026, 3, 9)), ("May 1, 2025", (2025, 5, 1)), ("Dec. 31, 2025", (2025, 12, 31)),
    ("2026-02-07", (2026, 2, 7)), ("  Jan.  2,  2026 ", (2026, 1, 2)),
])
def test_display_dates(text, expected):
    assert parse_display_date(text) == expected


@pytest.mark.parametrize("text", ["", "Smarch 3, 2025", "7/2/2026", "Feb. 2026"])
def test_bad_display_dates_are_errors(text):
    with pytest.raises(ValueError, match="displayDate"):
        parse_display_date(text)


def test_picture_times():
    assert picture_time({"displayDate": "Feb. 7, 2026", "displayTime": "20:15:30 UTC"}) == \
        datetime(2026, 2, 7, 20, 15, 30, tzinfo=UTC)
    assert picture_time({"displayDate": "Sept. 3, 2025", "displayTime": "08:02 UTC"}) == \
        datetime(2025, 9, 3, 8, 2, tzinfo=UTC)
    assert picture_time({"imageTimestamp": "1770495330", "displayDate": "garbage"}) == \
        datetime.fromtimestamp(1770495330, UTC)
    assert picture_time({"displayDate": "Feb. 30, 2026"}) is None  # not a real day
    assert picture_time({}) is None
