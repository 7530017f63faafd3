"""harvestd's exceptions: one tree, each class with the error code it stands for.

Class hierarchy (the classes live beside the code that raises them; the roots are here)::

    HarvestdError
     ├── ConfigError                 invalid or unreadable config (config.env.MissingVariable)
     ├── InputError                  a request the user made is wrong (backfill bounds, task body)
     │    ├── BackfillError           (daemon.backfill)
     │    └── TaskError               (daemon.tasks)
     ├── SourceError                 a remote site refused or answered something unusable
     │    ├── ApiError, PageError     (sources.nasa_iss)
     │    └── SloohError → SloohLoginError, SloohSessionError (sources.slooh)
     ├── HttpError                   an HTTP exchange failed (daemon.http) → NotFound, TooLarge
     ├── DownloadError               a transfer failed (→ ChecksumMismatch, Aria2Error,
     │                               Aria2Unavailable, Aria2Missing)
     ├── LibraryError                the library cannot take a file (→ LayoutError)
     ├── ProcessorError              a processor cannot use a file (→ CorruptImage)
     └── StoreError                  the database (→ StoreDamaged, BackupError)

Every class says which :class:`ErrorCode` an item failed by it gets and whether a later
attempt may succeed (``transient``); :func:`classify` answers both for any exception, so
the built-in downloader and the aria2 controller record the same code for the same cause.
``str(exc)`` is always the one-line reason a user reads (CLI) or a log record carries;
a traceback is only printed for what is not a :class:`HarvestdError` (a bug).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from daemon.codes import ErrorCode


class HarvestdError(Exception):
    """Base of every error harvestd raises on purpose; ``str()`` is the one-line reason."""

    item_code: ClassVar[ErrorCode] = ErrorCode.HTTP_ERROR
    retryable: ClassVar[bool] = False

    def error_code(self) -> ErrorCode:
        """The code an item failed by this error is recorded with."""
        return self.item_code

    def transient(self) -> bool:
        """True when a later attempt may succeed (the item is retried with backoff)."""
        return self.retryable


class ConfigError(HarvestdError):
    """An invalid or unreadable configuration; ``str()`` is the one-line reason(s)."""


class InputError(HarvestdError, ValueError):
    """A request the user made is wrong (bounds, a task body, an unknown source)."""


class SourceError(HarvestdError):
    """The remote site refused or answered something unusable; ``str()`` is the one-line
    reason (logged without a traceback)."""


class DownloadError(HarvestdError):
    """A transfer failed."""


class LibraryError(HarvestdError):
    """The library cannot take a file (its path, its folder, its space)."""

    item_code = ErrorCode.STORAGE


class ProcessorError(HarvestdError):
    """A processor cannot use a file."""

    item_code = ErrorCode.CORRUPT


class StoreError(HarvestdError):
    """The database refused or is damaged."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached now (PostgreSQL down, restarting, a dropped
    connection, no pooled connection in time): transient — components wait and carry on.
    The message names the server, never the password."""

    retryable = True


@dataclass(frozen=True)
class Failure:
    """How one exception is recorded on an item: ``code``, whether it is ``transient``, the
    one-line ``message``, and ``bug`` (not a harvestd error: logged with its traceback)."""

    code: ErrorCode
    transient: bool
    message: str
    bug: bool = False


def classify(exc: BaseException) -> Failure:
    """The :class:`Failure` an item gets for ``exc`` (used by both download backends).

    harvestd errors carry their own code; any other ``OSError`` is the library's
    (``storage``, final unless the caller recognises a full disk); anything else is a bug,
    recorded as ``http_error`` with its type so the item is not left claimed.
    """
    if isinstance(exc, HarvestdError):
        message = str(exc)
        if exc.error_code() is ErrorCode.CORRUPT:
            message = f"downloaded file is corrupt: {exc}"
        elif exc.error_code() is ErrorCode.STORAGE:
            message = f"{type(exc).__name__}: {exc}"
        return Failure(exc.error_code(), exc.transient(), message)
    if isinstance(exc, OSError):
        return Failure(ErrorCode.STORAGE, False, f"{type(exc).__name__}: {exc}")
    return Failure(ErrorCode.HTTP_ERROR, False, f"unexpected {type(exc).__name__}: {exc}", bug=True)
