"""Thumbnails of library images: made once per item in the CPU pool with Pillow (longest
side ≤ ``THUMB_PX``), cached as JPEG under ``{data_dir}/thumbs/`` and made again when the
cached file is missing. At most ``MAX_AT_ONCE`` are made at a time; the event loop never
decodes an image. A file that is not a decodable image (FITS, a multi-band TIFF) has none."""

from __future__ import annotations

import asyncio
import os
import tempfile
from concurrent.futures import Executor
from pathlib import Path

from daemon.aio import run_in_pool
from daemon.images import CorruptImage, ImageTooLarge, load_rgb

THUMB_PX = 320
MAX_AT_ONCE = 2
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"})


def thumb_path(data_dir: Path, item_id: int) -> Path:
    """``{data_dir}/thumbs/{id // 1000}/{id}.jpg`` (folders of ≤ 1000 files)."""
    return data_dir / "thumbs" / str(item_id // 1000) / f"{item_id}.jpg"


def make_thumb(source: Path, target: Path) -> bool:
    """Write the thumbnail of ``source`` to ``target`` (atomically); False when ``source``
    is not a decodable image."""
    from PIL import Image

    if source.suffix.lower() not in IMAGE_SUFFIXES:
        return False
    try:
        rgb, _scale, _size = load_rgb(source, THUMB_PX)
    except (CorruptImage, ImageTooLarge, OSError):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(rgb).save(fh, format="JPEG", quality=80)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


class Thumbnails:
    """``await thumbs.get(item_id, library_file)`` → the cached thumbnail, or None."""

    def __init__(self, data_dir: Path, pool: Executor) -> None:
        self.data_dir = data_dir
        self.pool = pool
        self._gate = asyncio.Semaphore(MAX_AT_ONCE)
        self.made = 0

    async def get(self, item_id: int, source: Path) -> Path | None:
        """The thumbnail of item ``item_id`` (made from ``source`` if not cached)."""
        target = thumb_path(self.data_dir, item_id)
        if await asyncio.to_thread(target.is_file):
            return target
        async with self._gate:
            if await asyncio.to_thread(target.is_file):  # made while this request waited
                return target
            if not await run_in_pool(self.pool, make_thumb, source, target):
                return None
            self.made += 1
            return target
