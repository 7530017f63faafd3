"""``harvestd backup DEST``: an online, consistent copy of the database, checked before it
is kept.

``VACUUM INTO`` reads the database in one read transaction, so the copy is a consistent
snapshot while the daemon keeps writing (WAL readers never block the writer; SQLite manual,
"VACUUM INTO" and "Write-Ahead Logging"). The copy is written beside its destination under a
temporary name, checked with ``PRAGMA integrity_check`` and only then renamed into place:
a failed or interrupted backup never leaves a partial file at ``DEST``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daemon.errors import StoreError


class BackupError(StoreError):
    """The backup could not be made or did not verify (the message says why)."""


@dataclass(frozen=True)
class Backup:
    """A verified copy: its path, size in bytes, items in it and seconds taken."""

    path: Path
    size_bytes: int
    items: int
    seconds: float


def backup_target(dest: Path, now: datetime | None = None) -> Path:
    """``dest`` itself, or ``dest/harvest-YYYYmmddTHHMMSSZ.db`` when it is a folder."""
    if dest.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return dest / f"harvest-{stamp}.db"
    return dest


def backup_database(db: Path, dest: Path, busy_timeout_ms: int = 30_000) -> Backup:
    """Copy ``db`` to ``dest`` (a file, or a folder for a time-stamped name) and verify it.
    Blocking: run it outside an event loop.

    Raises:
        BackupError: ``dest`` exists, its folder is missing, the copy fails or does not verify.
    """
    target = backup_target(dest)
    if target.exists():
        raise BackupError(f"{target} exists: choose a new name or a folder")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    started = time.perf_counter()
    try:
        src = sqlite3.connect(db, timeout=busy_timeout_ms / 1000)
        try:
            src.execute("VACUUM INTO ?", (str(partial),))
        finally:
            src.close()
        copy = sqlite3.connect(partial)
        try:
            verdict = [r[0] for r in copy.execute("PRAGMA integrity_check")]
            items = int(copy.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            copy.close()
        if verdict != ["ok"]:
            raise BackupError(f"the copy did not verify: {'; '.join(verdict[:3])}")
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {db}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, items, time.perf_counter() - started)
