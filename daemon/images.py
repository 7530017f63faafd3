"""Image decoding for processors and download verification (blocking: run in the pool)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 200_000_000  # refuse decompression bombs beyond ~200 MP


class CorruptImage(ValueError):
    """The file is not a complete, decodable image (truncated, garbage, unknown format)."""


def verify_image(path: Path) -> tuple[int, int]:
    """Fully decode ``path`` (at 1/8 scale for JPEG: every scan is still read), return (W, H).

    Raises:
        CorruptImage: truncated or undecodable data.
    """
    try:
        with Image.open(path) as img:
            size = img.size
            if img.format == "JPEG":
                img.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            img.load()
            return size
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"not a decodable image: {exc}") from None


FITS_BLOCK_BYTES = 2880  # FITS Standard 4.0 §3.1: headers and data come in 2880-byte blocks
FITS_SUFFIXES = frozenset({".fit", ".fits", ".fts"})


def verify_fits(path: Path) -> int:
    """Check a FITS file's framing (FITS Standard 4.0 §3.1, §4.4.1): it starts with the
    ``SIMPLE  =`` card, its size is a whole number of 2880-byte blocks and its primary
    header ends (an ``END`` card). Returns the size in bytes.

    Raises:
        CorruptImage: truncated (size not a multiple of 2880 bytes) or not FITS.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(FITS_BLOCK_BYTES * 36)  # a primary header rarely exceeds 36 blocks
    if not head.startswith(b"SIMPLE  ="):
        raise CorruptImage("not a FITS file (no SIMPLE card)")
    if size == 0 or size % FITS_BLOCK_BYTES:
        raise CorruptImage(f"truncated FITS file: {size} bytes is not a multiple of {FITS_BLOCK_BYTES}")
    cards = (head[i:i + 80] for i in range(0, len(head) - 79, 80))
    if not any(card.rstrip() == b"END" for card in cards):
        raise CorruptImage("FITS primary header has no END card")
    return size


def verify_file(path: Path) -> None:
    """:func:`verify_fits` for FITS names, :func:`verify_image` otherwise.

    Raises:
        CorruptImage: the file is truncated or undecodable.
    """
    if path.suffix.lower() in FITS_SUFFIXES:
        verify_fits(path)
    else:
        verify_image(path)


def load_rgb(path: Path, max_side_px: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Decode ``path`` to an ``(H, W, 3) uint8`` RGB array whose longer side ≤ ``max_side_px``.

    Large JPEGs are decoded at reduced scale with Pillow's ``draft()`` (DCT scaling: 1/2,
    1/4 or 1/8), then resampled down if still too large. Returns the array, the scale
    factor (decoded width / original width) and the original (W, H) in pixels.

    Raises:
        CorruptImage: truncated or undecodable data.
    """
    try:
        with Image.open(path) as img:
            full = img.size
            longest = max(full)
            if longest > max_side_px:
                ratio = max_side_px / longest
                img.draft("RGB", (max(1, int(full[0] * ratio)), max(1, int(full[1] * ratio))))
            rgb = img.convert("RGB")
        if max(rgb.size) > max_side_px:
            rgb.thumbnail((max_side_px, max_side_px), Image.Resampling.BILINEAR)
        array = np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"not a decodable image: {exc}") from None
    return array, array.shape[1] / full[0], full
