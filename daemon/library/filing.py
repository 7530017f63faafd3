"""The one way a file enters the library: seal → verify → publish.

Downloads (either backend) and uploads stage a file, then call :func:`file_into_library`:
the staged file is fsynced and hashed (:func:`~daemon.library.publish.seal`, checked
against the source's checksum and expected size when given), optionally verified (an
image fully decoded, in the bounded CPU pool), then renamed to its library path
(:func:`~daemon.library.publish.publish`, with the duplicate policy and the configured
modes) and given its capture time as modification time. So a file is at its library
path only when complete and verified.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daemon.aio import run_in_pool
from daemon.config.settings import LibrarySettings
from daemon.library.publish import FileModes, Sealed, publish, seal


def file_modes(library: LibrarySettings) -> FileModes:
    """``[library] file_mode`` / ``dir_mode`` as :class:`FileModes`."""
    return FileModes(library.file_mode, library.dir_mode)


def mtime_of(captured_at: datetime | None) -> float | None:
    """A capture time (UTC; naive counts as UTC) as a file modification time (Unix seconds),
    None when unknown or implausible (before 1971)."""
    if captured_at is None:
        return None
    when = captured_at if captured_at.tzinfo is not None else captured_at.replace(tzinfo=UTC)
    return when.timestamp() if when.year >= 1971 else None


@dataclass(frozen=True)
class Filed:
    """A file now in the library: its seal (size, SHA-256) and where it landed."""

    sealed: Sealed
    path: Path


def _publish(staged: Path, final: Path, policy: str, mtime: float | None, modes: FileModes) -> Path:
    landed = publish(staged, final, policy, modes)
    if mtime is not None:  # after: a copy across file systems would not keep it
        os.utime(landed, (mtime, mtime))
    return landed


def _seal_and_publish(staged: Path, final: Path, policy: str, checksum: str | None,
                      expected_size: int | None, mtime: float | None, modes: FileModes) -> Filed:
    sealed = seal(staged, checksum, expected_size)
    return Filed(sealed, _publish(staged, final, policy, mtime, modes))


async def file_into_library(staged: Path, final: Path, *, policy: str, modes: FileModes,
                            checksum: str | None = None, expected_size: int | None = None,
                            mtime: float | None = None, verify: Callable[[Path], object] | None = None,
                            pool: Executor | None = None) -> Filed:
    """Seal ``staged``, run ``verify(staged)`` in ``pool`` (when given), publish it at ``final``.

    Without ``verify`` the whole routine is one trip to a thread. ``policy``: the duplicate
    policy (skip | overwrite | rename) for a file already at ``final``.

    Raises:
        ChecksumMismatch: the file differs from ``checksum`` / ``expected_size``.
        CorruptImage: ``verify`` refused it (any exception of ``verify`` propagates).
        LayoutError, OSError: the library could not take it.
    """
    if verify is None:
        return await asyncio.to_thread(_seal_and_publish, staged, final, policy, checksum, expected_size,
                                       mtime, modes)
    sealed = await asyncio.to_thread(seal, staged, checksum, expected_size)
    if pool is None:
        await asyncio.to_thread(verify, staged)
    else:
        await run_in_pool(pool, verify, staged)
    return Filed(sealed, await asyncio.to_thread(_publish, staged, final, policy, mtime, modes))
