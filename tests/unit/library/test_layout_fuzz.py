"""Issue 11 item 18 and the layout fuzz: no rendered path leaves the root or exceeds limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.library.paths import MAX_COMPONENT_BYTES, render_layout, resolve_in_root

TEMPLATES = ["{object}/{telescope}/{format}/{telescope}_{filename}", "{a}{b}{c}/{filename}",
             "x/{a}.{b}/{t:%Y}/{filename}", "{a}-{a}-{a}"]


def test_joined_fields_are_capped_per_rendered_component():
    path = render_layout("{object}/{telescope}_{filename}",
                         {"object": "M31", "telescope": "T" * 190, "filename": "f" * 190 + ".fits"})
    parts = path.split("/")
    assert all(len(p.encode()) <= MAX_COMPONENT_BYTES for p in parts), [len(p) for p in parts]
    assert parts[1].endswith(".fits") and parts[1].startswith("TTT")


@settings(max_examples=300, deadline=None)
@given(template=st.sampled_from(TEMPLATES),
       a=st.text(min_size=0, max_size=300), b=st.text(min_size=0, max_size=300),
       c=st.text(min_size=0, max_size=300), name=st.text(min_size=0, max_size=400))
def test_no_rendered_path_leaves_the_root_or_exceeds_limits(template, a, b, c, name):
    fields = {"a": a, "b": b, "c": c, "object": a, "telescope": b, "format": c, "filename": name,
              "t": datetime(2025, 1, 2, tzinfo=UTC)}
    rel = render_layout(template, fields)
    parts = rel.split("/")
    assert all(p and p not in (".", "..") for p in parts)
    assert all(len(p.encode()) <= MAX_COMPONENT_BYTES for p in parts)
    assert "\x00" not in rel and not rel.startswith("/")
    root = Path("/srv/library")
    target = resolve_in_root(root, rel)
    assert root in target.parents
