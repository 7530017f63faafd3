"""Statuses and error codes, as enums stored as their plain strings.

Each is a :class:`enum.StrEnum`: a member *is* its string (``ItemStatus.DONE == "done"``),
so rows, JSON answers, logs and the CHECK constraints of ``store/migrations`` keep the
same text. The lists match those constraints (``0001_initial.sql`` and later migrations).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why an item failed (``items.error_code``)."""

    NOT_FOUND = "not_found"  # the remote says it does not exist (final)
    HTTP_ERROR = "http_error"  # an HTTP status, or an unexpected answer
    NETWORK = "network"  # no answer: refused, reset, timed out, name not resolved
    CORRUPT = "corrupt"  # the file arrived but is not a whole image
    STORAGE = "storage"  # the library could not take the file (space, permissions, path)
    CHECKSUM = "checksum"  # the file differs from its published checksum (after one refetch)


# retried by the next run of the same items (a scheduled run, a backfill, a task, a retry)
TRANSIENT_CODES: tuple[ErrorCode, ...] = (ErrorCode.HTTP_ERROR, ErrorCode.NETWORK, ErrorCode.CORRUPT,
                                          ErrorCode.STORAGE)


class ItemStatus(StrEnum):
    """Where an item is: discovered → downloading → downloaded (uploaded, for an upload) →
    processing → processed | failed."""

    DISCOVERED = "discovered"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


class ResultStatus(StrEnum):
    """One processor's result for an item: pending → processing → completed | failed."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class RunStatus(StrEnum):
    """A source run (scheduled, backfill, task): running → ok | failed | interrupted."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class TaskStage(StrEnum):
    """An API task: queued → acquiring → processing → completed | failed; a geo model task
    (``POST /api/run-model``): data_processing → model_prediction → completed | failed."""

    QUEUED = "queued"
    ACQUIRING = "acquiring"
    PROCESSING = "processing"
    DATA_PROCESSING = "data_processing"
    MODEL_PREDICTION = "model_prediction"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskKind(StrEnum):
    """What an API task does."""

    BACKFILL = "backfill"
    INGEST = "ingest"
    RUN_MODEL = "run_model"
    GEO_MODEL = "geo_model"
