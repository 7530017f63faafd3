"""Library layout: path templates, field sanitising, duplicate policy.

A template such as ``{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}`` is a Python format string;
the ``/`` written in the template separate folders, while every *field value* is
sanitised into a single safe path component (no separators, no ``..``, no control
characters, at most :data:`MAX_COMPONENT_BYTES` bytes of UTF-8), so a hostile remote name
can never escape the library root; every rendered component is capped to the same size
(file systems refuse names over 255 bytes: ``ENAMETOOLONG``).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import structlog

from daemon.codes import ErrorCode
from daemon.errors import LibraryError
from daemon.store.models import NewItem

log = structlog.get_logger("daemon.library")
MAX_COMPONENT_BYTES = 200  # UTF-8 bytes; file systems cap a name at 255 bytes, not characters
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class LayoutError(LibraryError, ValueError):
    """A template that does not render, or renders to an unsafe path."""


def sanitize_component(value: str, fallback: str = "_") -> str:
    """One safe path component from arbitrary text (keeps a short extension when cutting)."""
    text = unicodedata.normalize("NFC", value)
    text = _UNSAFE.sub("_", text).strip(" .")
    if not text or set(text) <= {"."}:
        return fallback
    return cap_component(text)


def cap_component(text: str) -> str:
    """``text`` cut to :data:`MAX_COMPONENT_BYTES` bytes of UTF-8, keeping a short extension."""
    if len(text.encode()) <= MAX_COMPONENT_BYTES:
        return text
    stem, dot, ext = text.rpartition(".")
    if not (dot and 0 < len(ext) <= 10):
        stem, ext = text, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_COMPONENT_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode(errors="ignore") + suffix


class _SafeFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return sanitize_component(super().format_field(value, format_spec))


def render_layout(template: str, fields: Mapping[str, Any]) -> str:
    """Render ``template`` with sanitised ``fields`` into a relative POSIX path.

    Raises:
        LayoutError: unknown field, bad format spec, or a result that is absolute or empty.
    """
    try:
        rendered = _SafeFormatter().vformat(template, (), dict(fields))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise LayoutError(f"layout {template!r} does not render: {exc!r}") from None
    parts = [p for p in PurePosixPath(rendered).parts if p not in ("", ".")]
    if not parts or rendered.startswith("/") or ".." in parts:
        raise LayoutError(f"layout {template!r} renders to an unsafe path {rendered!r}")
    # fields joined in one component ({telescope}_{filename}) are capped as a whole too
    return "/".join(cap_component(p) for p in parts)


def place(spec: NewItem, source: str) -> NewItem:
    """``spec`` with its library path rendered from its ``layout`` and ``fields`` (plus
    ``{source}``); a spec without a layout is returned as it is. A layout that does not
    render for this item's values fails the item (``storage``, with the reason), never the run.
    """
    if spec.layout is None:
        return spec
    try:
        return replace(spec, path=render_layout(spec.layout, {"source": source, **spec.fields}))
    except LayoutError as exc:
        log.warning("item_layout_failed", source=source, key=spec.key, reason=str(exc))
        return replace(spec, error=(ErrorCode.STORAGE, str(exc)))


def resolve_in_root(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would leave ``root``.

    Raises:
        LayoutError: the path escapes the root.
    """
    root_abs = root.resolve()
    target = (root_abs / relative).resolve()
    if target != root_abs and root_abs not in target.parents:
        raise LayoutError(f"path {relative!r} escapes the library root {root_abs}")
    return target


def next_free_name(path: Path) -> Path:
    """``name-1.ext``, ``name-2.ext``… : the first that does not exist (``rename`` policy)."""
    for n in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise LayoutError(f"no free name next to {path}")
