"""Helpers that make config errors point at the right place and guess the intended key.

``model_at`` walks a pydantic model tree along a validation error's location (dict keys,
list indices and discriminator tags included) to the model that refused a key, so an
unknown key can be answered with the closest known one (``difflib``'s ratio ≥ 0.6), as
``git`` and ``cargo`` do.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


def _unwrap(node: Any) -> Any:
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    return node


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


def model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class found by following ``loc`` from ``root``, or None when the path
    leaves the models (a plain value, an unknown field)."""
    node: Any = root
    for part in loc:
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
    members = _members(_unwrap(node))
    found = members[0] if len(members) == 1 else None
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def closest_key(root: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    """For an unknown key at ``loc`` (its last part), the known key it most likely meant."""
    model = model_at(root, loc[:-1])
    if model is None:
        return None
    known = [name for name in model.model_fields if name != "kind"]
    matches = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return matches[0] if matches else None
