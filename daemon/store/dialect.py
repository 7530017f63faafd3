"""The store's shared SQL, and its rewriting for PostgreSQL.

Query groups write SQLite's spelling of a few things PostgreSQL spells differently; the
PostgreSQL engine rewrites each statement once (cached) with :func:`to_postgres`:

=====================================  ==============================================
shared text (SQLite)                    PostgreSQL
=====================================  ==============================================
``?``, ``:name``                        ``%s``, ``%(name)s`` (psycopg's placeholders)
``X IN (SELECT value FROM json_each(?))``  ``X = ANY(%s)`` with a :class:`SqlList` bound as
                                        an array (an empty one too: the array's type comes
                                        from ``X``)
``FROM json_each(?)``                   ``FROM unnest(CAST(%s AS text[])) AS j(value)`` (text lists)
``json_extract(col, '$.a')``            ``(CAST(col AS jsonb) ->> 'a')`` (text)
``INDEXED BY name``, ``+col``           dropped (SQLite planner hints)
=====================================  ==============================================

Anything else must already mean the same in both (the store's test suite runs every query
on both engines). Sources: SQLite "JSON Functions" (json_each, json_extract); PostgreSQL 15
manual §9.16 (JSON operators) and §9.24 (``ANY`` with arrays); psycopg 3 "Passing parameters
to SQL queries".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any


class SqlList(str):
    """A list parameter of the shared SQL: binds as its JSON text in SQLite (for
    ``json_each``) and as an array in PostgreSQL (``values``)."""

    values: list[Any]

    def __new__(cls, values: Iterable[Any]) -> SqlList:
        items = list(values)
        obj = super().__new__(cls, json.dumps(items))
        obj.values = items
        return obj


_QUOTED = re.compile(r"('(?:[^']|'')*')")
_IN_LIST = re.compile(r"\bIN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(\?\)\s*\)", re.IGNORECASE)
_FROM_LIST = re.compile(r"\bjson_each\(\?\)", re.IGNORECASE)
_JSON_FIELD = re.compile(r"json_extract\(([\w.]+),\s*'\$\.(\w+)'\)", re.IGNORECASE)
_INDEXED_BY = re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)
_UNARY_PLUS = re.compile(r"(?<=[\s(])\+(?=[A-Za-z_])")
_NAMED = re.compile(r"(?<!:):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """The shared statement ``sql`` in PostgreSQL's spelling with psycopg placeholders.

    String literals are left alone (a ``?`` inside quotes stays a question mark); a literal
    ``%`` becomes ``%%``.

    Raises:
        ValueError: ``sql`` mixes ``?`` and ``:name`` parameters (psycopg takes one style).
    """
    # JSON field reads first: their '$.x' path is a literal the split below would isolate
    text = _JSON_FIELD.sub(lambda m: f"(CAST({m.group(1)} AS jsonb) ->> '{m.group(2)}')", sql)
    text = _INDEXED_BY.sub("", text)
    parts = _QUOTED.split(text)  # odd indexes: quoted literals
    positional = named = False
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:  # outside literals: lists, hints and parameters
            part = _IN_LIST.sub("= ANY(?)", part)
            part = _FROM_LIST.sub("unnest(CAST(? AS text[])) AS j(value)", part)
            part = _UNARY_PLUS.sub("", part)
            positional = positional or "?" in part
            part = part.replace("?", "%s")
            part, n = _NAMED.subn(r"%(\1)s", part)
            named = named or n > 0
        parts[i] = part
    if positional and named:
        raise ValueError(f"statement mixes ? and :name parameters: {sql[:80]}")
    return "".join(parts)


def pg_params(params: Any) -> Any:
    """Parameters for psycopg: every :class:`SqlList` becomes its list (an array)."""
    if isinstance(params, dict):
        return {k: v.values if isinstance(v, SqlList) else v for k, v in params.items()}
    return [v.values if isinstance(v, SqlList) else v for v in params]
