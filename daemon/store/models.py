"""Plain records exchanged with the store (no SQL here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.codes import ErrorCode

# Statuses are listed by the CHECK constraints of migrations/0001_initial.sql (and as enums
# in daemon.codes). error_code values an item may carry when failed (short names):
NOT_FOUND = ErrorCode.NOT_FOUND
HTTP_ERROR = ErrorCode.HTTP_ERROR
NETWORK_ERROR = ErrorCode.NETWORK
CORRUPT = ErrorCode.CORRUPT
STORAGE_ERROR = ErrorCode.STORAGE
CHECKSUM_ERROR = ErrorCode.CHECKSUM


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds, e.g. ``2025-01-01T00:02:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class NewItem:
    """An item a source found: unique per (source, key).

    A source gives the facts: ``layout`` (a library path template, usually its config's)
    and ``fields`` (the template's values); the pipeline renders ``path``, the relative
    library path the file will land at (:func:`daemon.library.paths.place`). An item built
    with a ``path`` (an upload, a retry) keeps it. ``captured_at`` is UTC.
    """

    key: str
    url: str
    captured_at: datetime
    path: str = ""
    processors: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    checksum: str | None = None  # "sha-256=<hex>" | "md5=<hex>" when the source publishes one
    error: tuple[str, str] | None = None  # (error_code, reason): known bad at discovery → failed
    layout: str | None = None  # rendered with ``fields`` (and ``source``) into ``path``
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One row of ``items``."""

    id: int
    source: str
    key: str
    url: str | None
    captured_at: datetime | None
    metadata: dict[str, Any]
    processors: tuple[str, ...]
    status: str
    path: str | None
    attempts: int
    checksum: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Item:
        """Build from an ``items`` row (``sqlite3.Row`` / mapping)."""
        captured = row["captured_at"]
        return cls(
            id=row["id"],
            source=row["source"],
            key=row["key"],
            url=row["url"],
            captured_at=datetime.fromisoformat(captured) if captured else None,
            metadata=json.loads(row["metadata"] or "{}"),
            processors=tuple(json.loads(row["processors"] or "[]")),
            status=row["status"],
            path=row["path"],
            attempts=row["attempts"],
            checksum=row["checksum"],
        )


@dataclass(frozen=True)
class ClaimedResult:
    """A leased ``results`` row together with its item."""

    id: int
    processor: str
    attempts: int
    item: Item


@dataclass(frozen=True)
class ResultOutput:
    """What a processor produced for one item.

    ``octas`` is 0..8 (WMO code table 2700) or None (e.g. night); ``cloud_fraction`` 0..1.
    """

    output: dict[str, Any]
    model: str
    model_version: str
    octas: int | None = None
    cloud_fraction: float | None = None


@dataclass
class RunCounts:
    """Counts of one job run (scheduled harvest or backfill)."""

    total: int = 0
    new: int = 0
    duplicates: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Transfer:
    """Live progress of one download: bytes, bytes/second, open connections."""

    item_id: int
    gid: str
    state: str
    completed_bytes: int
    total_bytes: int
    speed_bps: int
    connections: int = 0


@dataclass(frozen=True)
class Downloaded:
    """A finished download to record: its library path, size in bytes, SHA-256 hex digest."""

    item_id: int
    path: str
    size_bytes: int
    sha256: str
