"""Can this process write where the config says it will? (``harvestd check-config``).

The unit runs ``check-config`` as its ``ExecStartPre`` with the same user and sandbox as the
daemon, so a folder it cannot write is one clear line and exit 2 there, instead of a
``PermissionError`` traceback from ``run`` a moment later (issue 17).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def _user() -> str:
    try:
        return f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    except KeyError:
        return f"uid {os.geteuid()}"


def writable_problem(folder: Path) -> str | None:
    """Why this process could not create or write files in ``folder``, or None if it can.

    A folder that does not exist yet is fine when its nearest existing parent is writable
    (the daemon creates it). Uses ``os.access`` with the effective ids and a read-only file
    system check, so it answers for the user and the mount namespace it runs in.
    """
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return f"{folder}: no existing parent folder"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        what = "is not writable" if probe == folder else f"cannot be created: {probe} is not writable"
        return f"{folder} {what} by {_user()}"
    try:
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
    except OSError as exc:
        return f"{folder}: {exc.strerror}"
    return None
