"""Library layout: sanitising fields, refusing escapes, rename policy."""

from __future__ import annotations

from datetime import datetime

import pytest

from daemon.library.paths import (
    LayoutError,
    next_free_name,
    render_layout,
    resolve_in_root,
    sanitize_component,
)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("../../etc/passwd", "_.._etc_passwd"), ("a\x00b\nc", "a_b_c"), ("..", "_"), ("", "_"),
     ("  .hidden. ", "hidden"), ("C:\\x|y?.jpg", "C__x_y_.jpg")],
)
def test_sanitize_component(raw, safe):
    assert sanitize_component(raw) == safe


def test_long_names_are_cut_by_bytes_and_keep_their_extension():
    name = sanitize_component("x" * 400 + ".jpg")
    assert len(name) == 200 and name.endswith(".jpg")
    cyrillic = sanitize_component("облако" * 60 + ".jpg")  # 2 bytes per letter
    assert len(cyrillic.encode()) <= 200 and cyrillic.endswith(".jpg")
    assert cyrillic[:-4] == ("облако" * 60)[: len(cyrillic) - 4]  # cut on a character boundary


def test_render_layout_sanitises_each_field():
    path = render_layout("{source}/{t:%Y}/{t:%m}/{filename}",
                         {"source": "sky/../../root", "t": datetime(2025, 1, 2), "filename": "../a.jpg"})
    assert path == "sky_.._.._root/2025/01/_a.jpg"
    with pytest.raises(LayoutError):
        render_layout("{nope}/{filename}", {"filename": "a"})
    with pytest.raises(LayoutError):
        render_layout("/abs/{filename}", {"filename": "a"})


def test_resolve_in_root_and_rename(tmp_path):
    assert resolve_in_root(tmp_path, "a/b.jpg") == tmp_path.resolve() / "a" / "b.jpg"
    with pytest.raises(LayoutError):
        resolve_in_root(tmp_path, "../outside.jpg")
    (tmp_path / "a.jpg").write_bytes(b"1")
    (tmp_path / "a-1.jpg").write_bytes(b"1")
    assert next_free_name(tmp_path / "a.jpg") == tmp_path / "a-2.jpg"


def test_an_item_whose_layout_does_not_render_fails_alone_and_says_why():
    """One item's fields that do not fit the layout fail that item (``storage``, with the
    reason, and a warning naming it); the rest of the listing goes on."""
    from datetime import UTC, datetime

    import structlog

    from daemon.library.paths import place
    from daemon.store.models import NewItem

    when = datetime(2025, 1, 1, tzinfo=UTC)
    good = NewItem("a", "http://h/a", when, layout="{source}/{camera}/{filename}",
                   fields={"camera": "E4", "filename": "a.jpg"})
    bad = NewItem("b", "http://h/b", when, layout="{source}/{camera}/{filename}", fields={"filename": "b.jpg"})
    with structlog.testing.capture_logs() as logs:
        placed = [place(good, "iss"), place(bad, "iss")]
    assert placed[0].path == "iss/E4/a.jpg" and placed[0].error is None
    assert placed[1].error is not None and placed[1].error[0] == "storage" and "camera" in placed[1].error[1]
    assert [(e["event"], e["key"]) for e in logs] == [("item_layout_failed", "b")]
