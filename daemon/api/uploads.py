"""``POST /api/uploads`` and ``GET /api/items/{id}``: images sent by users (e.g. drone flights).

A multipart body with a ``file`` part (JPEG, PNG or TIFF, multi-band included) and an
optional ``metadata`` part (JSON object: capture time, GPS lat/lon/alt, camera…; stored
under ``metadata.user``, so it can never pose as another source's record). The type is
decided by the first bytes (magic numbers), never by the name; the name is sanitised into
one path component with the detected type's extension. The body is streamed to the staging
folder (at most ``[uploads] max_bytes``, within ``[uploads] timeout_s``), its header checked
against the pixel budget (``[worker] max_image_pixels``, 413) and decoded in the CPU pool
(415 when it does not decode), fsynced and hashed, then renamed into the library at
``[uploads] layout`` and recorded as ``uploaded`` with one pending result per ``[uploads]
processors``; the worker processes it (``uploaded → processing → processed``, each result
``completed`` or ``failed``). A rejected upload leaves no file and no row. At most
``[uploads] max_concurrent`` uploads are received at once (503 with ``Retry-After`` beyond).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import structlog
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from daemon.aio import run_in_pool
from daemon.api.params import parse_json, path_id
from daemon.config.api import UploadSettings
from daemon.downloads.base import Downloader
from daemon.gps import read_gps, with_overrides
from daemon.images import CorruptImage, ImageTooLarge, verify_upload
from daemon.library.filing import file_into_library, file_modes
from daemon.library.objects import ObjectStoreError
from daemon.library.paths import LayoutError, render_layout, resolve_in_root, sanitize_component
from daemon.store import Store

log = structlog.get_logger("daemon.api")
SOURCE = "uploads"
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"),
    (b"II+\x00", ".tif"), (b"MM\x00+", ".tif"),  # BigTIFF
)
CHUNK_BYTES = 1 << 20
SNIFF_BYTES = 8  # the longest magic number above
MAX_METADATA_BYTES = 64 << 10
EARLIEST_CAPTURE = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class UploadContext:
    """What uploads need (``app[UPLOADS]``): the store, the downloader (library root,
    staging), settings (replaced on reload, :meth:`reconfigure`), a wake-up."""

    store: Store
    downloader: Downloader
    settings: UploadSettings
    wake_worker: Any  # asyncio.Event of the worker
    slots: asyncio.Semaphore | None = None  # at most settings.max_concurrent uploads at once

    def __post_init__(self) -> None:
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.settings.max_concurrent)

    def reconfigure(self, settings: UploadSettings) -> None:
        """Apply a reloaded ``[uploads]`` (uploads being received finish under the old one;
        a new ``max_concurrent`` applies to the next ones)."""
        if settings.max_concurrent != self.settings.max_concurrent:
            self.slots = asyncio.Semaphore(settings.max_concurrent)
        self.settings = settings


def sniff(head: bytes) -> str | None:
    """The file extension for ``head`` (the first bytes), or None when not an accepted image."""
    return next((ext for magic, ext in MAGIC if head.startswith(magic)), None)


def _write(fh: Any, data: bytes) -> None:
    fh.write(data)


async def _receive(part: BodyPartReader, staged: Path, max_bytes: int) -> tuple[int, str]:
    """Stream ``part`` into ``staged``; returns (size in bytes, detected extension)."""
    size, ext = 0, None
    fh = await asyncio.to_thread(staged.open, "wb")
    try:
        buffer = bytearray()
        while chunk := await part.read_chunk(CHUNK_BYTES):
            size += len(chunk)
            buffer += chunk
            if ext is None and len(buffer) >= SNIFF_BYTES:  # a slow client may send 1 byte at a time
                ext = _sniff_or_415(bytes(buffer[:SNIFF_BYTES]))
            if size > max_bytes:
                raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=size,
                                                    reason=f"upload larger than {max_bytes} bytes")
            if ext is not None and len(buffer) >= CHUNK_BYTES:
                await asyncio.to_thread(_write, fh, bytes(buffer))
                buffer.clear()
        if size == 0:
            raise web.HTTPBadRequest(reason="the file part is empty")
        if ext is None:  # fewer bytes than the longest magic number
            ext = _sniff_or_415(bytes(buffer))
        if buffer:
            await asyncio.to_thread(_write, fh, bytes(buffer))
    finally:
        await asyncio.to_thread(fh.close)
    return size, ext


def _one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's text as one printable line (an HTTP reason cannot hold CR/LF)."""
    return " ".join("".join(c if c.isprintable() else " " for c in str(exc)).split())[:limit]


def _sniff_or_415(head: bytes) -> str:
    ext = sniff(head)
    if ext is None:
        raise web.HTTPUnsupportedMediaType(reason="not a JPEG, PNG or TIFF image (by content)")
    return ext


async def _metadata(part: BodyPartReader) -> dict[str, Any]:
    raw = bytearray()
    while chunk := await part.read_chunk(MAX_METADATA_BYTES):
        raw += chunk
        if len(raw) > MAX_METADATA_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_METADATA_BYTES, actual_size=len(raw),
                                                reason=f"metadata larger than {MAX_METADATA_BYTES} bytes")
    value = parse_json(bytes(raw), "metadata")
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(reason="metadata must be a JSON object")
    return value


def _captured_at(metadata: dict[str, Any], now: datetime, from_file: str | None = None) -> str:
    """``metadata.captured_at`` (ISO 8601; UTC when no offset) as UTC text, 1970 … now + 1 day;
    without it the file's own capture time (EXIF, UTC) when plausible, else ``now``."""
    text = metadata.get("captured_at")
    if text is None:
        file_time = datetime.fromisoformat(from_file.replace("Z", "+00:00")) if from_file else None
        if file_time is not None and EARLIEST_CAPTURE <= file_time <= now + timedelta(days=1):
            return file_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(reason="metadata.captured_at must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise web.HTTPBadRequest(reason="metadata.captured_at is not an ISO 8601 time") from None
    if not EARLIEST_CAPTURE <= when <= now + timedelta(days=1):
        raise web.HTTPBadRequest(reason=f"metadata.captured_at {text!r} is before 1970 or in the future")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


UPLOADS: web.AppKey[UploadContext] = web.AppKey("uploads", UploadContext)


async def post_upload(request: web.Request) -> web.Response:
    """Receive one image; 202 with the item id, or 4xx with the reason (nothing kept)."""
    src = request.app[UPLOADS]
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPUnsupportedMediaType(reason="send multipart/form-data with a 'file' part")
    assert src.slots is not None
    if src.slots.locked():
        raise web.HTTPServiceUnavailable(
            reason=f"{src.settings.max_concurrent} uploads in progress ([uploads] max_concurrent): retry later",
            headers={"Retry-After": "5"})
    async with src.slots:
        try:
            async with asyncio.timeout(src.settings.timeout_s):
                return await _upload(request, src)
        except TimeoutError:
            raise web.HTTPRequestTimeout(
                reason=f"upload not received within {src.settings.timeout_s:.0f} s ([uploads] timeout_s)"
            ) from None


async def _upload(request: web.Request, src: UploadContext) -> web.Response:
    staging = src.downloader.staging
    await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
    upload_id = secrets.token_hex(6)
    staged = staging / f"upload-{upload_id}.part"
    metadata: dict[str, Any] = {}
    got: tuple[int, str] | None = None
    name = "upload"
    try:
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "metadata":
                    metadata = await _metadata(part)
                elif part.name == "file" and got is None:
                    name = unquote(part.filename or "upload")  # some clients percent-encode it
                    got = await _receive(part, staged, src.settings.max_bytes)
        except (ValueError, LookupError, HttpProcessingError, AssertionError) as exc:
            # aiohttp's multipart reader: bad boundary, header line too long, unknown charset…
            raise web.HTTPBadRequest(reason=f"malformed multipart body: {_one_line(exc)}") from None
        if got is None:
            raise web.HTTPBadRequest(reason="no 'file' part")
        size, ext = got
        now = datetime.now(UTC)
        _captured_at(metadata, now)  # a bad captured_at is refused before any decoding
        try:  # the header against the pixel budget, then a full decode, in the CPU pool
            await run_in_pool(src.downloader.pool, verify_upload, staged)
        except ImageTooLarge as exc:
            raise web.HTTPRequestEntityTooLarge(max_size=src.settings.max_bytes, actual_size=size,
                                                reason=_one_line(exc)) from None
        except CorruptImage as exc:
            raise web.HTTPUnsupportedMediaType(reason=f"the {ext[1:].upper()} image is not decodable: "
                                                      f"{_one_line(exc)}") from None
        found = await run_in_pool(src.downloader.pool, read_gps, staged)
        captured = _captured_at(metadata, now, found.captured_at)
        gps = {**with_overrides(found, metadata), "captured_at": captured}
        stem = sanitize_component(Path(name).stem or "upload", fallback="upload")
        relative = render_layout(src.settings.layout, {"t": now, "filename": f"{stem}{ext}", "id": upload_id})
        root = await asyncio.to_thread(src.downloader.library_root.resolve)
        final = await asyncio.to_thread(resolve_in_root, root, relative)
        # verified above (its errors are HTTP answers): seal and publish as downloads do
        filed = await file_into_library(staged, final, policy="rename",
                                        modes=file_modes(src.downloader.guard.settings))
        # an S3 library: into the bucket before the item exists (recorded only once confirmed)
        landed, sealed = await src.downloader.upload_published(root, filed.path, filed.sealed, "rename")
    except LayoutError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    except ObjectStoreError as exc:
        log.warning("upload_not_stored", error=str(exc))
        raise web.HTTPServiceUnavailable(reason="the library's bucket cannot take the file now; "
                                                "send it again later", headers={"Retry-After": "60"}) from None
    finally:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(staged.unlink, True)
    path = landed.relative_to(root).as_posix()
    item_id = await src.store.add_upload(SOURCE, f"{upload_id}-{stem}{ext}", path, sealed.size_bytes,
                                         sealed.sha256, captured,
                                         {"user": metadata, "original_name": name, "gps": gps},
                                         src.settings.processors)
    src.wake_worker.set()
    log.info("upload_received", source=SOURCE, key=f"{upload_id}-{stem}{ext}", path=path, bytes=size,
             item_id=item_id)
    return web.json_response({"id": item_id, "status": "uploaded", "path": path,
                              "processors": src.settings.processors}, status=202)


async def get_item(request: web.Request) -> web.Response:
    """The item with its results (404 JSON when unknown)."""
    src = request.app[UPLOADS]
    item_id = path_id(request, "item")
    item = await src.store.item_with_results(item_id)
    if item is None:
        raise web.HTTPNotFound(reason=f"no item {item_id}")
    return web.json_response(item)
