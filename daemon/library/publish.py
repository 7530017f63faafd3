"""Finishing a download, whichever backend fetched it: verify, then publish atomically.

A backend fetches into the staging folder (``[downloads] staging_dir``, by default
``{library}/.partial``). :func:`seal` fsyncs the staged file and hashes it (SHA-256 for the
store, plus the source's expected checksum when it published one); images are then fully
decoded (:func:`daemon.images.verify_image`, in the CPU pool); :func:`publish` renames the
file to its layout path with ``os.replace`` (atomic on one file system) and fsyncs the
folder. So a file is at its library path only when complete and verified. When the staging
folder is on another file system, the file is copied to ``<final>.part`` beside its
destination, fsynced, then renamed (never a partial file at the final path).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from daemon.codes import ErrorCode
from daemon.errors import DownloadError
from daemon.library.paths import LayoutError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp",
                            ".fit", ".fits", ".fts"})
# aria2c(1) --checksum=<TYPE>=<DIGEST> names → hashlib names
CHECKSUM_ALGORITHMS = {
    "md5": "md5", "sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256",
    "sha-384": "sha384", "sha-512": "sha512",
}


class ChecksumMismatch(DownloadError, ValueError):
    """The staged file does not match the checksum the source published (``checksum``, final
    after the one refetch the backends make)."""

    item_code = ErrorCode.CHECKSUM


@dataclass(frozen=True)
class Sealed:
    """A staged file that is complete on disk: size in bytes and SHA-256 hex digest."""

    size_bytes: int
    sha256: str


def parse_checksum(spec: str) -> tuple[str, str]:
    """``"sha-256=<hex>"`` → ``("sha256", "<hex>")`` (aria2's TYPE=DIGEST form).

    Raises:
        ValueError: unknown type or a digest that is not hex.
    """
    kind, _, digest = spec.partition("=")
    algorithm = CHECKSUM_ALGORITHMS.get(kind.strip().lower())
    digest = digest.strip().lower()
    if algorithm is None or not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"unsupported checksum {spec!r} (want e.g. sha-256=<hex> or md5=<hex>)")
    return algorithm, digest


def parse_digest_header(value: str | None) -> str | None:
    """An instance digest header → ``"md5=<hex>"`` (aria2's TYPE=DIGEST form), or None.

    ``Digest: MD5=<base64>, SHA-256=<base64>`` (RFC 3230 §4.3.2, algorithm names RFC 5843;
    ``SHA`` is SHA-1) or a bare ``Content-MD5: <base64>`` value (RFC 1864). The first
    supported algorithm wins, as aria2c does with the Digest header.
    """
    if not value:
        return None
    for part in value.split(","):
        name, _, encoded = part.strip().partition("=")
        name = {"sha": "sha-1"}.get(name.strip().lower(), name.strip().lower())
        if name not in CHECKSUM_ALGORITHMS:  # Content-MD5: the value is the base64 digest itself
            name, encoded = "md5", part.strip()
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            continue
        if raw and len(raw) == hashlib.new(CHECKSUM_ALGORITHMS[name]).digest_size:
            return f"{name}={raw.hex()}"
    return None


def is_image(path: Path) -> bool:
    """True when the name says image or FITS (only those are verified by decoding/framing)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def fsync_dir(folder: Path) -> None:
    """fsync a directory so a rename in it survives a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(staged: Path, checksum: str | None = None, expected_size: int | None = None) -> Sealed:
    """fsync ``staged``, hash it and check size and checksum (blocking: run in a thread).

    Raises:
        ChecksumMismatch: digest or size differ from what was expected.
        OSError: the file cannot be read.
    """
    sha = hashlib.sha256()
    extra = None
    want = None
    if checksum:
        algorithm, want = parse_checksum(checksum)
        extra = hashlib.new(algorithm) if algorithm != "sha256" else None
    size = 0
    with staged.open("rb") as fh:
        os.fsync(fh.fileno())
        while block := fh.read(1 << 20):
            size += len(block)
            sha.update(block)
            if extra is not None:
                extra.update(block)
    if expected_size is not None and size != expected_size:
        raise ChecksumMismatch(f"size {size} bytes, expected {expected_size}")
    if want is not None:
        got = (extra or sha).hexdigest()
        if got != want:
            raise ChecksumMismatch(f"checksum mismatch: got {got[:16]}…, expected {want[:16]}…")
    return Sealed(size, sha.hexdigest())


def _link_no_clobber(staged: Path, final: Path) -> bool:
    """Hard-link ``staged`` at ``final`` unless it exists; False when it does."""
    try:
        os.link(staged, final)
    except FileExistsError:
        return False
    os.unlink(staged)
    return True


@dataclass(frozen=True)
class FileModes:
    """Permission bits (``[library] file_mode`` / ``dir_mode``) given to published files and
    to the folders made for them; ``None`` leaves them to the process umask (the unit's
    ``UMask=0027``: 0640 files, 0750 folders)."""

    file: int | None = None
    dir: int | None = None


def make_dirs(folder: Path, mode: int | None) -> None:
    """``mkdir -p folder``; each folder it creates gets ``mode`` (chmod: the umask does not
    narrow it). Existing folders are left as they are."""
    if mode is None:
        folder.mkdir(parents=True, exist_ok=True)
        return
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:  # made meanwhile by another task: not ours to change
            continue
        os.chmod(made, mode)


def _copy_across(staged: Path, final: Path, file_mode: int | None) -> None:
    part = final.with_name(final.name + ".part")
    try:
        shutil.copyfile(staged, part)
        if file_mode is not None:
            os.chmod(part, file_mode)
        with part.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    staged.unlink()


def publish(staged: Path, final: Path, policy: str, modes: FileModes = FileModes()) -> Path:
    """Move a sealed file to ``final`` (blocking: run in a thread); returns where it landed.

    ``policy`` applies when ``final`` exists: ``overwrite`` and ``skip`` replace it (skip
    was decided before fetching), ``rename`` picks ``name-1.ext``, ``name-2.ext``… without
    ever clobbering a file that appears meanwhile (hard links refuse to overwrite).

    ``modes`` are set on the file before it appears (and on the folders made for it).

    Raises:
        LayoutError: no free name left (``rename``).
        OSError: the move failed.
    """
    make_dirs(final.parent, modes.dir)
    if modes.file is not None:
        os.chmod(staged, modes.file)
    if policy == "rename":
        candidates = [final] + [final.with_name(f"{final.stem}-{n}{final.suffix}") for n in range(1, 10_000)]
        for candidate in candidates:
            try:
                if _link_no_clobber(staged, candidate):
                    fsync_dir(candidate.parent)
                    return candidate
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                    raise
                if candidate.exists():  # no hard links here: best effort check-then-rename
                    continue
                final = candidate
                break
        else:
            raise LayoutError(f"no free name next to {final}")
    try:
        os.replace(staged, final)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_across(staged, final, modes.file)
    fsync_dir(final.parent)
    return final
