"""The staging folder's sweep: staged files nobody will finish are deleted.

Every backend stages an item's bytes as ``<16 hex of the item id>-<name>`` (aria2c adds a
``<name>.aria2`` control file; the built-in backend a ``.part`` suffix). A crash, a kill
or a full disk can leave such files behind. A sweep (at start and every few minutes)
deletes the ones whose item is finished (downloaded, processed…), failed for good, or
unknown to the store, unless this process is working on it; files of items still waiting
(``discovered``, ``downloading``) stay, so the next attempt resumes them. Upload staging
files (``upload-<id>.part``) older than :data:`STALE_UPLOAD_S` are deleted too.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from daemon.store import Store

STAGED_NAME = re.compile(r"^([0-9a-f]{16})-")
FINISHED = frozenset({"downloaded", "processing", "processed", "failed", "uploaded"})
STALE_UPLOAD_S = 86_400.0
MIN_AGE_S = 2.0  # never touch a file written in the last seconds (its writer may still hold it)


@dataclass(frozen=True)
class Staged:
    """One file of the staging folder: its path, the item id in its name, its age in seconds."""

    path: Path
    item_id: int | None
    age_s: float


def list_staging(folder: Path) -> list[Staged]:
    """Every file directly in ``folder`` (blocking: call in a thread)."""
    now = time.time()
    out: list[Staged] = []
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return out
    for path in entries:
        try:
            st = path.stat()
        except OSError:
            continue
        if not path.is_file():
            continue
        match = STAGED_NAME.match(path.name)
        out.append(Staged(path, int(match.group(1), 16) if match else None, now - st.st_mtime))
    return out


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def sweep_staging(folder: Path, store: Store, busy_ids: Collection[int]) -> list[Path]:
    """Delete the staged files described in the module docstring; returns what was deleted.

    ``busy_ids``: items this process is downloading now (their files are never touched).
    """
    files = await asyncio.to_thread(list_staging, folder)
    ids = sorted({f.item_id for f in files if f.item_id is not None})
    statuses = await store.item_statuses(ids) if ids else {}
    doomed: list[Path] = []
    for f in files:
        if f.age_s < MIN_AGE_S or (f.item_id is not None and f.item_id in busy_ids):
            continue
        if f.item_id is None:
            if f.path.name.startswith("upload-") and f.age_s > STALE_UPLOAD_S:
                doomed.append(f.path)
            continue
        status = statuses.get(f.item_id)
        if status is None or status in FINISHED:
            doomed.append(f.path)
    if doomed:
        await asyncio.to_thread(_unlink, doomed)
    return doomed


def finished_leftover(staged: Path) -> bool:
    """A staged file with bytes and no ``.aria2`` control file: aria2c finished it (it deletes
    the control file at the end) or never saved one (then it is short, and fails to decode)."""
    try:
        return staged.stat().st_size > 0 and not staged.with_name(staged.name + ".aria2").exists()
    except OSError:
        return False
