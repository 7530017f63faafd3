"""Making config errors point at the right place and guess the intended key.

:func:`locate_key` finds the ``file:line`` of a dotted key in the TOML text;
:func:`model_at` walks the model tree along a validation error's location (dict keys,
list indices, and tables whose model their ``kind`` picks) to the model that refused a key,
so an unknown key can be answered with the closest known one (``difflib``'s ratio ≥ 0.6),
as ``git`` and ``cargo`` do.
"""

from __future__ import annotations

import difflib
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, WrapValidator

from daemon.config.base import KindDispatch


def _unwrap(node: Any) -> Any:
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    return node


def _dispatch(node: Any) -> KindDispatch | None:
    """The :class:`KindDispatch` validating ``node`` (an ``Annotated`` type), if any."""
    while get_origin(node) is Annotated:
        for meta in get_args(node)[1:]:
            if isinstance(meta, WrapValidator) and isinstance(meta.func, KindDispatch):
                return meta.func
        node = get_args(node)[0]
    return None


def _members(node: Any) -> list[Any]:
    if get_origin(node) in (Union, types.UnionType):
        return [_unwrap(m) for m in get_args(node) if m is not type(None)]
    return [node]


def _tagged(members: list[Any], tag: str) -> Any:
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel) and "kind" in member.model_fields:
            literal = member.model_fields["kind"].annotation
            if get_origin(literal) is Literal and tag in get_args(literal):
                return member
    return None


def _resolve(node: Any, raw: Any) -> Any:
    """``node``, or the model its :class:`KindDispatch` picks for the raw table (None: unknown)."""
    dispatch = _dispatch(node)
    return dispatch.model_for(raw) if dispatch is not None else node


def _child(raw: Any, part: str | int) -> Any:
    if isinstance(raw, dict):
        return raw.get(part)
    if isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw):
        return raw[part]
    return None


def model_at(root: type[BaseModel], loc: tuple[str | int, ...], raw: Any = None) -> type[BaseModel] | None:
    """The model class found by following ``loc`` from ``root``, or None when the path
    leaves the models (a plain value, an unknown field). ``raw`` is the validated input (the
    TOML tree): a table validated by its ``kind`` resolves to that kind's model."""
    node: Any = root
    for part in loc:
        node = _resolve(node, raw)
        members = _members(_unwrap(node))
        if len(members) > 1:  # a discriminated union: ``part`` is the tag pydantic added
            node = _tagged(members, str(part))
            if node is None:
                return None
            continue
        node = members[0]
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return None
            node = field.annotation
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        elif get_origin(node) in (list, tuple):
            node = get_args(node)[0]
        else:
            return None
        raw = _child(raw, part)
    members = _members(_unwrap(_resolve(node, raw)))
    found = members[0] if len(members) == 1 else None
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def closest_key(root: type[BaseModel], loc: tuple[str | int, ...], raw: Any = None) -> str | None:
    """For an unknown key at ``loc`` (its last part), the known key it most likely meant
    (``raw``: the input tree, see :func:`model_at`)."""
    model = model_at(root, loc[:-1], raw)
    if model is None:
        return None
    known = [name for name in model.model_fields if name != "kind"]
    matches = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return matches[0] if matches else None


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.\-"]+)\s*=')


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|([^.\s]+)', key)
    return [a or b for a, b in parts]


def locate_key(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort 1-based line of the dotted key ``loc`` in TOML ``text`` (None if absent)."""
    want = [str(p) for p in loc if not isinstance(p, int)]
    best: tuple[int, int] | None = None
    table: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            path = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = table + _split_dotted(key.group(1))
        n = len(path)
        if n <= len(want) and path == want[:n] and (best is None or n > best[0]):
            best = (n, lineno)
    return best[1] if best else None
