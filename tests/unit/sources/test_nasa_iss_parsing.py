"""nasa_iss: query building, API response quirks, dedupe, page parsing (both markups), codes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.sources.nasa_iss.api import (
    NO_RECORDS,
    ApiError,
    Condition,
    api_params,
    build_query,
    image_url,
    number,
    one_per_photo,
    parse_response,
    photo_conditions,
)
from daemon.sources.nasa_iss.codes import camera_description, film_description
from daemon.sources.nasa_iss.page import PageError, parse_photo_page
from daemon.sources.nasa_iss.windows import AdaptiveWindows
from tests.fakes.nasa_pages import PagePhoto, current_page, older_page

# real API output quoted in shared/reference/nasa_eol.md §1.5 (arbitrary key order, all strings)
REAL_ROWS = json.loads("""[
 {"images.directory": "ESC/large/ISS006", "frames.elev": "-55", "frames.lon": "-80.0",
  "frames.ptime": "031456", "frames.pdate": "20030411", "frames.camera": "E4",
  "images.width": "3032", "frames.azi": "300", "frames.geon": "PANAMA", "frames.fclt": "58",
  "frames.film": "3060E", "frames.nlat": "10.0", "images.filename": "ISS006-E-44608.JPG",
  "frames.mission": "ISS006", "frames.nlon": "-78.6", "images.height": "2064",
  "frames.feat": "PANAMA CITY & COLON AT NIGHT", "frames.cldp": "10", "frames.tilt": "23",
  "frames.lat": "9.5"},
 {"images.directory": "ESC/large/ISS026", "frames.elev": "-48", "frames.lon": "-79.6",
  "frames.ptime": "023609", "frames.pdate": "20110109", "frames.camera": "N5",
  "images.width": "4256", "frames.azi": "248", "frames.geon": "PANAMA", "frames.fclt": "180",
  "frames.film": "4256E", "frames.nlat": "10.4", "images.filename": "ISS026-E-16456.JPG",
  "frames.mission": "ISS026", "frames.nlon": "-79.2", "images.height": "2913",
  "frames.feat": "PANAMA CITY AREA AT NIGHT", "frames.cldp": "50", "frames.tilt": "25",
  "frames.lat": "9.0"}
]""")


def test_query_syntax_is_pipe_joined_4_tuples_anded():
    conditions = photo_conditions(mission="iss073", since=date(2025, 1, 1), until=date(2025, 1, 31),
                                  bbox=(8.0, -86.0, 11.3, -82.5), time_of_day="night")
    query = build_query(conditions)
    assert query.startswith("frames|mission|eq|ISS073|frames|pdate|ge|20250101|frames|pdate|le|20250131|")
    assert "frames|lat|ge|8|frames|lat|le|11.3|frames|lon|ge|-86|frames|lon|le|-82.5" in query
    assert "frames|elev|le|0" in query and query.endswith("images|directory|like|*large*")
    params = api_params(conditions, "SECRET")
    assert params["key"] == "SECRET" and params["return"].startswith("frames|mission|frames|roll|")
    assert "not like" in build_query([Condition("images", "directory", "not like", "*small*")])
    with pytest.raises(ValueError, match="operator"):
        Condition("frames", "lat", "between", "1")
    with pytest.raises(ValueError, match=r"'\|'"):
        Condition("frames", "geon", "eq", "A|B")


def drive(windows: AdaptiveWindows, rows_in: Callable[[date, date], int]) -> list[tuple[date, date]]:
    out = []
    while (window := windows.next()) is not None:
        out.append(window)
        windows.answered(rows_in(*window))
    return out


def test_windows_grow_over_empty_years_and_cover_the_range_without_overlap():
    """Issue 13: 2000–2030 with photos only in January 2025 took 366 calls of 31 days."""
    in_2025 = lambda a, b: 28 if a <= date(2025, 1, 28) and b >= date(2025, 1, 1) else 0  # noqa: E731
    windows = drive(AdaptiveWindows(date(2000, 1, 1), date(2030, 12, 31), 31, 3650, 2000), in_2025)
    assert len(windows) <= 12
    assert windows[0] == (date(2000, 1, 1), date(2000, 1, 31))  # the first window is window_days
    assert windows[-1][1] == date(2030, 12, 31)
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(windows))
    assert max((b - a).days + 1 for a, b in windows) <= 3650


def test_a_short_look_back_is_one_call_and_a_dense_answer_shrinks_the_next_window():
    assert drive(AdaptiveWindows(date(2025, 1, 1), date(2025, 1, 14), 31, 3650, 2000), lambda a, b: 500) == \
        [(date(2025, 1, 1), date(2025, 1, 14))]
    dense = AdaptiveWindows(date(2020, 1, 1), date(2020, 12, 31), 31, 3650, 2000)
    dense.min_days = 1  # the floor is window_days; 1 here to see the shrinking
    first = dense.next()
    assert first is not None
    dense.answered(8000)  # 31 days gave 8,000 rows: about 2,000 rows is 7 days
    second = dense.next()
    assert second is not None and (second[1] - second[0]).days + 1 == 7
    dense.answered(10**6)
    third = dense.next()
    assert third is not None and (third[1] - third[0]).days + 1 == 1  # at the floor: never below 1 day


@given(st.lists(st.integers(0, 20_000), min_size=1, max_size=400), st.integers(1, 60), st.integers(0, 4000))
def test_windows_always_tile_the_range(answers, min_days, extra_days):
    start, end = date(2001, 3, 4), date(2001, 3, 4) + timedelta(days=extra_days)
    windows = AdaptiveWindows(start, end, min_days, min_days * 50, 2000)
    got = drive(windows, lambda a, b: answers[windows.calls % len(answers)])
    assert got[0][0] == start and got[-1][1] == end
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(got))
    assert all(a <= b and (b - a).days < min_days * 50 for a, b in got)


def test_response_quirks():
    assert parse_response({"result": NO_RECORDS}) == []
    with pytest.raises(ApiError, match="Invalid API key"):
        parse_response({"error": "Invalid API key"})
    with pytest.raises(ApiError):
        parse_response("<html>Server Error</html>")
    rows = parse_response([{"frames.lat": None, "frames.lon": ".5", "Frames.Mission": " ISS001 "}])
    assert rows == [{"frames.lat": "", "frames.lon": ".5", "frames.mission": "ISS001"}]
    assert number(".5") == 0.5 and number("-.3") == -0.3 and number("") is None and number("NV") is None


def test_real_rows_become_typed_photos():
    photos = one_per_photo(parse_response(REAL_ROWS))
    first = photos[0]
    assert first.nasa_id == "ISS006-E-44608"
    assert (first.pdate, first.ptime) == (date(2003, 4, 11), time(3, 14, 56))
    assert (first.lat, first.lon, first.nadir_lat, first.nadir_lon) == (9.5, -80.0, 10.0, -78.6)
    assert (first.sun_elevation_deg, first.sun_azimuth_deg, first.cloud_cover_pct) == (-55, 300, 10)
    assert (first.camera, first.film, first.focal_length_mm, first.tilt) == ("E4", "3060E", 58, "23")
    assert (first.width_px, first.height_px) == (3032, 2064)
    assert image_url("https://eol.jsc.nasa.gov/", first) == (
        "https://eol.jsc.nasa.gov/DatabaseImages/ESC/large/ISS006/ISS006-E-44608.JPG")


def test_one_row_per_photo_with_the_requested_size():
    large = dict(REAL_ROWS[0])
    small = {**large, "images.directory": "ESC/small/ISS006", "images.width": "640"}
    film_hi = {"frames.mission": "NM23", "frames.roll": "729", "frames.frame": "793",
               "images.directory": "ISD/highres/NM23", "images.filename": "NM23-729-793.JPG"}
    film_lo = {**film_hi, "images.directory": "ISD/lowres/NM23"}
    photos = one_per_photo([small, large, film_lo, film_hi], "large")
    assert [(p.nasa_id, p.directory) for p in photos] == [("ISS006-E-44608", "ESC/large/ISS006"),
                                                          ("NM23-729-793", "ISD/highres/NM23")]
    smalls = one_per_photo([large, small, film_hi, film_lo], "small")
    assert [p.directory for p in smalls] == ["ESC/small/ISS006", "ISD/lowres/NM23"]
    only_images = one_per_photo([{"images.directory": "ESC/large/ISS002",
                                  "images.filename": "ISS002-E-5448_2.JPG"}])
    assert only_images[0].nasa_id == "ISS002-E-5448"


@pytest.mark.parametrize("render", [current_page, older_page])
def test_every_field_of_both_markups(render):
    page = parse_photo_page(render(PagePhoto()))
    assert page.nasa_id == "ISS006-E-44608"
    assert (page.date, page.time_gmt) == (date(2003, 4, 11), time(3, 14, 56))
    assert (page.nadir_lat, page.nadir_lon, page.center_lat, page.center_lon) == (10.0, -78.6, 9.5, -80.0)
    assert page.nadir_to_center_km == 170 and "SW" in (page.nadir_to_center or "")
    assert page.altitude_nmi == 210
    assert page.altitude_km == (389 if render is current_page else round(210 * 1.852, 1))
    assert (page.sun_elevation_deg, page.sun_azimuth_deg, page.cloud_cover_pct) == (-55, 300, 10)
    assert page.camera == "Kodak DCS760c Electronic Still Camera"
    assert (page.focal_length_mm, page.camera_tilt) == (58, "23 degrees")
    assert (page.film_code, page.film_description) == ("3060E", "3060 x 2036 pixel CCD, RGBG array")
    assert (page.geographic_name, page.features) == ("PANAMA", "PANAMA CITY & COLON AT NIGHT")
    assert page.image_sizes_px == ((3032, 2064), (640, 436))
    assert page.geotiff_available is False
    assert page.camera_metadata_path == "/SearchPhotos/CameraMetadata/ISS006/ISS006-E-44608.txt"
    assert page.missing == ()


def test_geotiff_offered_and_southern_eastern_points():
    photo = replace(PagePhoto(), geotiff=True, nadir="33.9&deg; S, 151.2&deg; E",
                    center="34.1&deg; S, 150.9&deg; E")
    page = parse_photo_page(current_page(photo))
    assert page.geotiff_available is True
    assert (page.nadir_lat, page.nadir_lon, page.center_lat, page.center_lon) == (-33.9, 151.2, -34.1, 150.9)


def test_a_page_cut_after_the_date_keeps_what_it_has():
    html = current_page(PagePhoto())
    page = parse_photo_page(html[:html.index("Time taken")])  # a connection cut mid-page
    assert page.nasa_id == "ISS006-E-44608" and page.date == date(2003, 4, 11)
    assert {"time_gmt", "altitude", "camera", "camera_metadata"} <= set(page.missing)


def test_missing_fields_are_none_and_named():
    html = current_page(PagePhoto()).replace("Focal Length:", "Lens:")
    page = parse_photo_page(html)
    assert page.focal_length_mm is None and "focal_length" in page.missing
    assert page.camera == "Kodak DCS760c Electronic Still Camera"  # the rest is still read


@pytest.mark.parametrize("html", [
    "", "<html><body><h1>Internal Server Error</h1></body></html>",
    "<html><body>This photo has been removed from the database</body></html>",
    "<<<garbage \x00 not html",
    current_page(PagePhoto())[:250],  # truncated before the ID row
])
def test_pages_that_are_not_photo_pages_fail_with_a_reason(html):
    with pytest.raises(PageError, match="not a photo page"):
        parse_photo_page(html)


def test_code_maps_and_unknown_codes():
    assert camera_description("N5") == "Nikon D3S Electronic Still Camera"
    assert camera_description("n8") == "Nikon D5 Electronic Still Camera"
    assert camera_description("ZZ") is None and camera_description(None) is None
    assert film_description("4256E", ).startswith("4256 x 2832 pixel CMOS sensor")
    assert film_description("5046") == "Kodak Lumiere 100, color positive (slide) film"
    assert film_description("SO131") == "color infrared film"
    assert film_description("X9999") is None
