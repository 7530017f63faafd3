"""Library files as the worker and the dashboard use them: a local path for each library path.

A folder library (the default, a NAS share): the path under ``[library] root``, nothing more.
An S3 library: ``root`` is this node's working copy — files this node published, or fetched
from the bucket when a processor or the dashboard needs one another node published — kept
under ``[library] cache_max_bytes`` by deleting the least recently used copies (every one of
them is safe in the bucket); processor outputs written beside an original are uploaded beside
it in the bucket.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog

from daemon.config.settings import LibrarySettings
from daemon.library.objects import ObjectLibrary
from daemon.library.paths import resolve_in_root

log = structlog.get_logger("daemon.library")
MIN_IDLE_S = 60.0  # a copy used this recently is never evicted (a processor may be reading it)


class WorkingCopy:
    """The local copies of an S3 library's objects, least recently used first, bounded."""

    def __init__(self, root: Path, max_bytes: int, min_idle_s: float = MIN_IDLE_S) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.min_idle_s = min_idle_s
        self._files: OrderedDict[Path, tuple[int, float]] = OrderedDict()  # path → (bytes, used at)
        self.total_bytes = 0
        self._lock = asyncio.Lock()

    async def scan(self) -> None:
        """Count the copies already on disk (after a restart), oldest modification first."""
        found = await asyncio.to_thread(_walk, self.root)
        async with self._lock:
            for path, size, mtime in sorted(found, key=lambda f: f[2]):
                if path not in self._files:
                    self._files[path] = (size, mtime)
                    self.total_bytes += size

    async def touch(self, path: Path, size_bytes: int) -> None:
        """``path`` (``size_bytes``) is in use now; evict old copies past the bound."""
        async with self._lock:
            old = self._files.pop(path, None)
            if old is not None:
                self.total_bytes -= old[0]
            self._files[path] = (size_bytes, time.monotonic())
            self.total_bytes += size_bytes
            doomed: list[Path] = []
            now = time.monotonic()
            for candidate, (size, used_at) in list(self._files.items()):  # least recently used first
                if self.total_bytes <= self.max_bytes or now - used_at < self.min_idle_s:
                    break  # under the bound, or every copy left was used a moment ago
                if candidate == path:
                    continue
                del self._files[candidate]
                self.total_bytes -= size
                doomed.append(candidate)
        if doomed:
            await asyncio.to_thread(_unlink, doomed)
            log.info("working_copy_evicted", files=len(doomed), kept_bytes=self.total_bytes)


def _walk(root: Path) -> list[tuple[Path, int, float]]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".partial"]
        for name in names:
            if name.endswith(".part"):
                continue
            path = Path(folder) / name
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((path, st.st_size, time.monotonic() - max(0.0, time.time() - st.st_mtime)))
    return found


def _place(root: Path, relative: str) -> tuple[Path, str, int | None]:
    """(local path, object key, size of the local copy or None when there is none)."""
    path = resolve_in_root(root, relative)
    key = path.relative_to(root.resolve()).as_posix()
    try:
        return path, key, path.stat().st_size
    except FileNotFoundError:
        return path, key, None


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class LibraryFiles:
    """Local paths of library files (``root()`` follows reloads); S3: fetched on demand."""

    def __init__(self, root: Callable[[], Path], objects: ObjectLibrary | None = None,
                 working: WorkingCopy | None = None) -> None:
        self.root = root
        self.objects = objects
        self.working = working
        self._fetching: dict[str, asyncio.Lock] = {}  # keys being fetched now

    async def local(self, relative: str) -> Path:
        """The local file of library path ``relative`` (S3: fetched into the working copy when
        this node has no copy).

        Raises:
            LayoutError: ``relative`` leaves the root.
            FileNotFoundError: neither a local copy nor an object exists.
            ObjectStoreError: the bucket could not be read.
        """
        path, key, size = await asyncio.to_thread(_place, self.root(), relative)
        if self.objects is None:
            return path
        if size is None:  # one fetch per key: the others wanting it wait for that one
            lock = self._fetching.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    path, key, size = await asyncio.to_thread(_place, self.root(), relative)
                    if size is None:
                        size = await self.objects.download(key, path)
            finally:
                if not lock.locked() and self._fetching.get(key) is lock:
                    del self._fetching[key]
        if self.working is not None:
            await self.working.touch(path, size)
        return path

    async def keep(self, original: Path, names: Iterable[str]) -> None:
        """S3: upload files a processor wrote beside ``original`` (``names`` in its folder) to
        the same place in the bucket (overwriting: a rerun replaces its outputs).

        Raises:
            ObjectStoreError: the bucket refused.
        """
        if self.objects is None:
            return
        root = await asyncio.to_thread(self.root().resolve)
        for name in names:
            await self.publish(original.with_name(name).relative_to(root).as_posix())

    async def publish(self, relative: str, sha256: str | None = None, size_bytes: int | None = None) -> None:
        """S3: upload the local file of library path ``relative`` (written by this node) to the
        same key, replacing what is there; no-op for a folder library. ``sha256`` / ``size_bytes``
        when already known.

        Raises:
            LayoutError: ``relative`` leaves the root.
            ObjectStoreError: the bucket refused.
        """
        if self.objects is None:
            return
        path, key, size = await asyncio.to_thread(_place, self.root(), relative)
        if size is None:
            raise FileNotFoundError(f"no local file {relative} to upload")
        digest: str = sha256 if sha256 is not None else await asyncio.to_thread(_sha256, path)
        await self.objects.upload(path, key, "overwrite", digest, size_bytes or size)
        if self.working is not None:
            await self.working.touch(path, size)


async def library_files(library: LibrarySettings) -> LibraryFiles:
    """The files of ``[library]``: the root folder, or (``url``) the S3 bucket with the root as
    this node's working copy (its present files counted against ``cache_max_bytes``)."""
    if library.url is None:
        return LibraryFiles(lambda: library.root)
    objects = ObjectLibrary(library.url, library.endpoint_url, library.region)
    working = WorkingCopy(library.root, library.cache_max_bytes)
    await working.scan()
    log.info("library_in_bucket", url=library.url, working_copy=str(library.root),
             working_copy_bytes=working.total_bytes, cache_max_bytes=library.cache_max_bytes)
    return LibraryFiles(lambda: library.root, objects, working)


def _sha256(path: Path) -> str:
    import hashlib

    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
