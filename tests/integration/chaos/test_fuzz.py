"""Fuzz (hypothesis): parsers of remote answers, config loading and the API's request
parsing raise only their documented errors, whatever they are given (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.api.params import bounded_int, parse_json
from daemon.config.load import parse_config
from daemon.errors import ConfigError
from daemon.library.paths import MAX_COMPONENT_BYTES
from daemon.sources.nasa_iss.page import PageError, parse_photo_page
from daemon.sources.slooh.objects import object_name
from daemon.sources.slooh.records import fits_item, picture_item

pytestmark = pytest.mark.chaos
LAYOUT = "{object}/{telescope}/{format}/{telescope}_{filename}"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12)
html_bits = st.sampled_from(["<td>", "</td>", "<tr>", "<em>Photo ID:</em>", "<em>Date:</em>", "ISS073-E-1",
                             "2025.01.02", "<b>", "Latitude", "-31.4, 12.2", "<table>", "</table>", "&amp;",
                             "<em>Nadir to Photo Center:</em>", "<em>Altitude:</em>", "420 km"])


@FUZZ
@given(st.lists(html_bits | st.text(max_size=30), max_size=60))
def test_photo_page_parser_raises_only_page_error(parts):
    try:
        page = parse_photo_page("".join(parts))
    except PageError:
        return
    assert page is not None


@FUZZ
@given(st.dictionaries(st.sampled_from(["imageId", "imageDownloadURL", "imageURL", "imageTitle", "displayDate",
                                        "displayTime", "timestamp", "telescopeName", "instrumentName",
                                        "customerImageId", "scheduledMissionId", "imageDownloadFilename",
                                        "imageTimestamp", "owner"]), json_values, max_size=14))
def test_slooh_records_make_an_item_or_none_with_safe_paths(record):
    for item in (picture_item("slooh", LAYOUT, record), fits_item("slooh", LAYOUT, record, "grp", record)):
        if item is None:
            continue
        parts = item.path.split("/")
        assert all(p and p not in (".", "..") and len(p.encode()) <= MAX_COMPONENT_BYTES for p in parts)
        assert item.key.endswith((":png", ":fits"))


@FUZZ
@given(st.none() | st.text(max_size=200))
def test_object_names_are_never_empty(title):
    name = object_name(title)
    assert isinstance(name, str) and name.strip()


toml_lines = st.sampled_from([
    'data_dir = "data"', "[api]", 'listen = "127.0.0.1:0"', 'listen = "0.0.0.0:80"', "[sources.sky]",
    'kind = "skycam"', 'kind = "nope"', 'url_template = "http://x/{t:%Y}.jpg"', "minutes = [2, 12]",
    "minutes = [99]", "latitude = 1e400", "[worker]", "threads = 0", "threads = 4", "[downloads]",
    'backend = "aria2"', "max_attempts = -1", "[library]", 'root = "/"', "x = ", "[[weird]]",
    'schedule = "*/10 * * * *"', 'schedule = "every day"', "[uploads]", "max_bytes = 1"])


@FUZZ
@given(st.lists(toml_lines | st.text(max_size=20), max_size=25))
def test_config_loading_raises_only_config_error(lines):
    try:
        parse_config("\n".join(lines), Path("/tmp/fuzz/config.toml"), env={})
    except ConfigError as exc:
        assert str(exc)


@FUZZ
@given(st.binary(max_size=300) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_json_bodies_parse_or_are_400(raw):
    try:
        parse_json(raw)
    except web.HTTPBadRequest as exc:
        assert exc.reason and "\n" not in exc.reason


@FUZZ
@given(st.text(max_size=40))
def test_ids_parse_or_are_400(text):
    try:
        value = bounded_int(text, "id", 1, (1 << 63) - 1)
    except web.HTTPBadRequest:
        return
    assert 1 <= value < 1 << 63
