"""A damaged database file: detected at open (``PRAGMA quick_check``) and during work
(SQLITE_CORRUPT / SQLITE_NOTADB), reported as one line that names the file and what to do.

SQLite result codes: https://www.sqlite.org/rescode.html (11 SQLITE_CORRUPT, 26 SQLITE_NOTADB);
``PRAGMA quick_check``: https://www.sqlite.org/pragma.html#pragma_quick_check (O(N), skips
the index-content cross-check of ``integrity_check``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from daemon.errors import StoreError

DAMAGE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)
QUICK_CHECK_ERRORS = 3  # how many problems quick_check reports before it stops


class StoreDamaged(StoreError, sqlite3.DatabaseError):
    """The database file is damaged (truncated, garbled, not SQLite): never used, never
    repaired in place; the message says to restore the last backup."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = " ".join(detail.split())[:300]
        super().__init__(
            f"the database {path} is damaged ({self.detail}): stop harvestd, move the file aside "
            "and restore the last backup (README, \"Backups and restores\"); without one, start "
            "with an empty database and re-run backfills")


def is_damage(exc: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" / "file is not a database"."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, StoreDamaged):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in DAMAGE_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def quick_check_rows(rows: list[tuple[str]] | list[sqlite3.Row]) -> str | None:
    """The problems reported by ``PRAGMA quick_check`` rows, or None when it says ``ok``."""
    problems = [str(r[0]) for r in rows]
    return None if problems == ["ok"] else "; ".join(problems) or "quick_check answered nothing"


def check_database(path: Path) -> None:
    """Open ``path`` read-only and run a bounded ``PRAGMA quick_check`` (blocking: CLI use).

    Raises:
        StoreDamaged: the file is damaged.
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # cannot open (permissions, missing): the command's own error says so
    try:
        problems = quick_check_rows(conn.execute(f"PRAGMA quick_check({QUICK_CHECK_ERRORS})").fetchall())
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise StoreDamaged(path, str(exc)) from None
        return  # locked, busy…: not damage
    finally:
        conn.close()
    if problems is not None:
        raise StoreDamaged(path, problems)
