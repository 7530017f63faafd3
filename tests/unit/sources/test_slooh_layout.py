"""Slooh template fields rendered through the library layout (sanitised, byte-capped)."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.library.paths import render_layout
from daemon.sources.slooh.layout import file_format, layout_fields

PICTURE = {"imageTitle": "Orion Nebula (M42)", "telescopeName": "Canary Two", "instrumentName": ""}
WHEN = datetime(2025, 12, 26, 8, 2, 32, tzinfo=UTC)


def test_the_seed_template():
    fields = layout_fields(PICTURE, "20251226_080232_m42_l.png", WHEN)
    path = render_layout("{object}/{telescope}/{format}/{telescope}_{filename}", fields)
    assert path == "M42/Canary Two/Pictures/Canary Two_20251226_080232_m42_l.png"


def test_every_field():
    fields = layout_fields(PICTURE, "x_l_cal.fit", WHEN)
    assert fields["instrument"] == "Unknown" and fields["format"] == "FITS"
    assert render_layout("{year}/{month}/{day}/{date}/{title}/{instrument}", fields) == \
        "2025/12/26/2025-12-26/Orion Nebula (M42)/Unknown"
    assert file_format("a.JPG") == "JPEG" and file_format("a.png") == "Pictures"


def test_hostile_titles_stay_one_segment():
    fields = layout_fields({"imageTitle": "../../etc/passwd (NGC 7000)", "telescopeName": "a/b"}, "f.png", None)
    path = render_layout("{object}/{title}/{telescope}/{filename}", fields)
    assert path == "NGC7000/_.._etc_passwd (NGC 7000)/a_b/f.png"  # no separators, no leading dots
    long = layout_fields({"imageTitle": "Ω" * 300}, "f.png", None)
    assert len(render_layout("{title}", long).encode()) <= 200
