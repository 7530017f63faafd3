"""``POST /api/uploads`` and ``GET /api/items/{id}``: images sent by users (e.g. drone flights).

A multipart body with a ``file`` part (JPEG, PNG or TIFF, multi-band included) and an
optional ``metadata`` part (JSON object: capture time, GPS lat/lon/alt, camera…). The type
is decided by the first bytes (magic numbers), never by the name; the name is sanitised
into one path component with the detected type's extension. The body is streamed to the
staging folder (at most ``[uploads] max_bytes``), fsynced and hashed, then renamed into the
library at ``[uploads] layout`` and recorded as ``uploaded`` with one pending result per
``[uploads] processors``; the worker processes it (``uploaded → processing → processed``,
each result ``completed`` or ``failed``). A rejected upload leaves no file and no row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import structlog
from aiohttp import BodyPartReader, web

from daemon.api.params import path_id
from daemon.config_api import UploadSettings
from daemon.downloads.base import Downloader
from daemon.downloads.finish import publish, seal
from daemon.downloads.layout import LayoutError, render_layout, resolve_in_root, sanitize_component
from daemon.store import Store

log = structlog.get_logger("daemon.api")
SOURCE = "uploads"
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"),
    (b"II+\x00", ".tif"), (b"MM\x00+", ".tif"),  # BigTIFF
)
CHUNK_BYTES = 1 << 20


@dataclass
class UploadSources:
    """What uploads need: the store, the downloader (library root, staging), settings, a wake-up."""

    store: Store
    downloader: Downloader
    settings: UploadSettings
    wake_worker: Any  # asyncio.Event of the worker


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
            if ext is None:
                ext = sniff(bytes(chunk[:8]))
                if ext is None:
                    raise web.HTTPUnsupportedMediaType(reason="not a JPEG, PNG or TIFF image (by content)")
            size += len(chunk)
            if size > max_bytes:
                raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=size,
                                                    reason=f"upload larger than {max_bytes} bytes")
            buffer += chunk
            if len(buffer) >= CHUNK_BYTES:
                await asyncio.to_thread(_write, fh, bytes(buffer))
                buffer.clear()
        if buffer:
            await asyncio.to_thread(_write, fh, bytes(buffer))
    finally:
        await asyncio.to_thread(fh.close)
    if ext is None:
        raise web.HTTPBadRequest(reason="the file part is empty")
    return size, ext


def _metadata(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise web.HTTPBadRequest(reason="metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(reason="metadata must be a JSON object")
    return value


def _captured_at(metadata: dict[str, Any], now: datetime) -> str:
    text = metadata.get("captured_at")
    if text is None:
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(reason="metadata.captured_at is not an ISO 8601 time") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def post_upload(request: web.Request, src: UploadSources) -> web.Response:
    """Receive one image; 202 with the item id, or 4xx with the reason (nothing kept)."""
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPUnsupportedMediaType(reason="send multipart/form-data with a 'file' part")
    reader = await request.multipart()
    staging = src.downloader.staging
    await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
    upload_id = secrets.token_hex(6)
    staged = staging / f"upload-{upload_id}.part"
    metadata: dict[str, Any] = {}
    got: tuple[int, str] | None = None
    name = "upload"
    try:
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "metadata":
                metadata = _metadata(await part.text())
            elif part.name == "file" and got is None:
                name = unquote(part.filename or "upload")  # some clients percent-encode it
                got = await _receive(part, staged, src.settings.max_bytes)
        if got is None:
            raise web.HTTPBadRequest(reason="no 'file' part")
        size, ext = got
        now = datetime.now(UTC)
        captured = _captured_at(metadata, now)
        stem = sanitize_component(Path(name).stem or "upload", fallback="upload")
        relative = render_layout(src.settings.layout, {"t": now, "filename": f"{stem}{ext}", "id": upload_id})
        root = await asyncio.to_thread(src.downloader.library_root.resolve)
        final = await asyncio.to_thread(resolve_in_root, root, relative)
        sealed = await asyncio.to_thread(seal, staged)
        landed = await asyncio.to_thread(publish, staged, final, "rename")
    except LayoutError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(staged.unlink, True)
    path = landed.relative_to(root).as_posix()
    item_id = await src.store.add_upload(SOURCE, f"{upload_id}-{stem}{ext}", path, sealed.size_bytes,
                                         sealed.sha256, captured, {**metadata, "original_name": name},
                                         src.settings.processors)
    src.wake_worker.set()
    log.info("upload_received", source=SOURCE, key=f"{upload_id}-{stem}{ext}", path=path, bytes=size,
             item_id=item_id)
    return web.json_response({"id": item_id, "status": "uploaded", "path": path,
                              "processors": src.settings.processors}, status=202)


async def get_item(request: web.Request, src: UploadSources) -> web.Response:
    """The item with its results (404 JSON when unknown)."""
    item_id = path_id(request, "item")
    item = await src.store.item_with_results(item_id)
    if item is None:
        raise web.HTTPNotFound(reason=f"no item {item_id}")
    return web.json_response(item)
