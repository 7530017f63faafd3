"""Is the library root usable right now? (NAS mounts come and go.)

``[library] root`` is usable when it is a writable folder and, with ``require_mount = true``,
a mount point itself (``os.path.ismount``): an unmounted NAS leaves an empty folder of the
local disk at the same path, and writing there would fill the wrong disk and hide files
from the NAS once it comes back. When the root is not usable, ``fallback_root`` is used if
configured (said once in the log), else downloads pause (said once) until it is back (said
once). A root with less than ``min_free_bytes`` free counts as full: downloads pause the
same way and resume by themselves once space is back. Checks touch the file system, so
they run in a thread; a hung mount times out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from daemon.config.settings import LibrarySettings

log = structlog.get_logger("daemon.library")
CHECK_TIMEOUT_S = 10.0
REMOTE_CHECK_S = 60.0  # an S3 library's bucket, while it answers
MIB = 1 << 20
FULL = "full"  # how root_problem's answer for a root below min_free_bytes begins


def _missing(root: Path) -> str:
    parent = root.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"missing (it cannot be created: {parent} not writable)"
    return "missing"


def root_problem(root: Path, require_mount: bool, min_free_bytes: int = 0,
                 staging_dir: Path | None = None) -> str | None:
    """Why ``root`` cannot take files right now (blocking), or None when it can: missing, not
    a folder, not mounted, not writable, its staging folder (``staging_dir``, else
    ``root/.partial``) not writable, or full (less than ``min_free_bytes`` free)."""
    if not root.is_dir():
        return _missing(root) if not root.exists() else "not a folder"
    if require_mount and not os.path.ismount(root):
        return "not mounted"
    if not os.access(root, os.W_OK | os.X_OK):
        return "not writable"
    staging = staging_dir or root / ".partial"
    if staging.exists() and not os.access(staging, os.W_OK | os.X_OK):
        return f"staging folder {staging} not writable"
    if min_free_bytes:
        free = shutil.disk_usage(root).free
        if free < min_free_bytes:
            return (f"{FULL} ({free / MIB:.1f} MiB free, below [library] min_free_bytes = "
                    f"{min_free_bytes / MIB:.0f} MiB)")
    return None


@dataclass(frozen=True)
class LibraryState:
    """Where files go now: ``root`` (None = paused) and, when not the main root, why."""

    root: Path | None
    reason: str | None = None
    full: bool = False  # the main root is below min_free_bytes (the reason says how much is free)

    @property
    def paused(self) -> bool:
        return self.root is None


class LibraryGuard:
    """Decides the root to write to; logs each change of state once."""

    def __init__(self, settings: LibrarySettings,
                 remote: Callable[[], Awaitable[str | None]] | None = None) -> None:
        self.settings = settings
        self.state = LibraryState(settings.root)
        self._last: tuple[Path | None, str | None] | None = None
        #: an S3 library's bucket check (None: usable): asked at most every REMOTE_CHECK_S
        #: seconds while it answers, at every check while it does not
        self.remote = remote
        self._remote_ok_at = -REMOTE_CHECK_S

    async def check(self, staging_dir: Path | None = None) -> LibraryState:
        """Re-check the roots (in a thread, bounded by ``CHECK_TIMEOUT_S``); ``staging_dir`` is
        ``[downloads] staging_dir`` (else each root's ``.partial`` is checked)."""
        s = self.settings
        problem = await self._problem(s.root, s.require_mount, s.min_free_bytes, staging_dir)
        full = problem is not None and problem.startswith(FULL)
        if problem is None:
            state = LibraryState(s.root)
        elif (s.fallback_root is not None
              and await self._problem(s.fallback_root, False, s.min_free_bytes, staging_dir) is None):
            state = LibraryState(s.fallback_root, f"{s.root} {problem}", full)
        else:
            state = LibraryState(None, f"{s.root} {problem}", full)
        if self.remote is not None and not state.paused:
            state = await self._check_remote(state)
        self._log_change(state)
        self.state = state
        return state

    async def _check_remote(self, state: LibraryState) -> LibraryState:
        assert self.remote is not None
        now = time.monotonic()
        if not self.state.paused and now - self._remote_ok_at < REMOTE_CHECK_S:
            return state
        problem = await self.remote()
        if problem is not None:
            return LibraryState(None, problem)
        self._remote_ok_at = now
        return state

    def force_remote_check(self) -> None:
        """Ask the bucket again at the next check (a write to it just failed)."""
        self._remote_ok_at = -REMOTE_CHECK_S

    async def _problem(self, root: Path, require_mount: bool, min_free_bytes: int,
                       staging_dir: Path | None) -> str | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return await asyncio.to_thread(root_problem, root, require_mount, min_free_bytes, staging_dir)
        except TimeoutError:
            return f"not answering within {CHECK_TIMEOUT_S:g} s"

    def _log_change(self, state: LibraryState) -> None:
        key = (state.root, state.reason)
        if key == self._last:
            return
        first = self._last is None
        self._last = key
        if state.paused:
            log.error("library_unavailable_downloads_paused", reason=state.reason)
        elif state.reason:
            log.warning("library_fallback_in_use", root=str(state.root), reason=state.reason)
        elif not first:
            log.info("library_available_downloads_resumed", root=str(state.root))
