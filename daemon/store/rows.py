"""Typed rows of the report queries (what ``harvestd status``/``stats``, ``retry`` and
``/api/health`` read). Times are UTC ISO 8601 text, sizes bytes, ``next_attempt_at`` Unix
seconds; statuses and error codes are the strings of :mod:`daemon.codes`."""

from __future__ import annotations

from typing import TypedDict


class FailedItemRow(TypedDict):
    """A failed item, as ``harvestd retry`` requeues it."""

    source: str
    key: str
    url: str | None
    path: str | None
    captured_at: str | None
    checksum: str | None
    error_code: str | None
    last_error: str | None
    attempts: int


class ItemStatsRow(TypedDict):
    """One source's items: how many, done (file in the library), failed, waiting, bytes."""

    source: str
    items: int
    done: int
    failed: int
    waiting: int
    bytes: int
    last_download: str | None


class FailureCountRow(TypedDict):
    """How many items of a source failed with one error code (``?``: none recorded)."""

    source: str
    code: str
    n: int


class SourceHealthRow(TypedDict):
    """What :mod:`daemon.source_health` judges a source by (see ``source_health()``)."""

    source: str
    last_success_at: str | None
    failed: int
    retrying: int
    next_attempt_at: float | None
    failing_since: str | None
    last_error_code: str | None
    last_error: str | None
    last_error_at: str | None


class RunStatsRow(TypedDict):
    """Runs of a source per trigger: how many, how many failed, the last start."""

    source: str
    trigger: str
    runs: int
    failed: int
    last_started: str | None


class ItemCountRow(TypedDict):
    """How many items of a source are in one status."""

    source: str
    status: str
    n: int


class ResultCountRow(TypedDict):
    """How many results of a source's processor are in one status."""

    source: str | None  # NULL only for a result inserted by hand without its source
    processor: str
    status: str
    n: int


class StatusCounts(TypedDict):
    """``harvestd status`` and ``/api/queues/status``: items and results per status."""

    items: list[ItemCountRow]
    results: list[ResultCountRow]


class ErrorRow(TypedDict):
    """One recent failure: of a download (``stage`` ``download`` or ``download, will
    retry``) or of a processor (``stage`` is its name)."""

    source: str
    key: str
    stage: str
    error: str | None
    updated_at: str


class RunRow(TypedDict):
    """One ``runs`` row with what became of the items it queued."""

    id: int
    source: str
    trigger: str
    started_at: str
    finished_at: str | None
    status: str
    total: int
    new: int
    duplicates: int
    failed: int
    error: str | None
    owner: str | None
    items_done: int
    items_failed: int
    items_waiting: int


class TransferRow(TypedDict):
    """A transfer in progress (aria2c): bytes, bytes per second, connections."""

    source: str
    key: str
    owner: str | None  # the lease owner (``node:pid:component``): which node transfers it
    item_id: int
    gid: str
    state: str
    completed_bytes: int
    total_bytes: int
    speed_bps: int
    connections: int
    updated_at: str
