"""Image decoding for processors and download verification (blocking: run in the pool)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from daemon.errors import ProcessorError

DEFAULT_MAX_PIXELS = 64_000_000  # a 61 MP camera frame fits; see set_max_pixels
_max_pixels = DEFAULT_MAX_PIXELS
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS  # Pillow refuses above twice this…
# … and warns above it: the budget is enforced here, on the header, before every decode
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})


class CorruptImage(ProcessorError, ValueError):
    """The file is not a complete, decodable image (truncated, garbage, unknown format)."""


class ImageTooLarge(CorruptImage):
    """The image has more pixels than the budget (a decompression bomb, or simply too big to
    decode within the daemon's memory): refused before decoding."""


def set_max_pixels(max_pixels: int) -> None:
    """The process-wide pixel budget (``[worker] max_image_pixels``): every decode here checks
    the header's width × height against it first (Pillow's own limit follows it)."""
    global _max_pixels
    _max_pixels = max_pixels
    Image.MAX_IMAGE_PIXELS = max_pixels


def max_pixels() -> int:
    """The current pixel budget (width × height)."""
    return _max_pixels


def header_size(path: Path) -> tuple[int, int]:
    """(W, H) in pixels from the file's header only (no pixel data decoded): Pillow for JPEG,
    PNG…, tifffile's first series for TIFF (H folds in any page or other non-sample axis).

    Raises:
        CorruptImage: the header cannot be read.
    """
    try:
        if path.suffix.lower() in TIFF_SUFFIXES or _is_tiff(path):
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                dims = dict(zip(series.axes, series.shape, strict=True))
                # every axis but samples/channels counts as pixels (pages, time, unknown "Q"…):
                # what decoding the series costs, whatever its layout
                samples = math.prod(v for a, v in dims.items() if a in "SC")
                width = int(dims.get("X", 1))
                return width, max(1, math.prod(series.shape) // max(1, samples) // max(1, width))
        with Image.open(path) as img:
            return img.size
    except Image.DecompressionBombError as exc:  # over twice Pillow's limit: refused on open
        raise ImageTooLarge(f"{path.name}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, IndexError,
            tifffile.TiffFileError) as exc:
        raise CorruptImage(f"cannot read {path.name}: not a decodable image: {exc}") from None


def _is_tiff(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def check_pixels(path: Path, budget: int | None = None) -> tuple[int, int]:
    """(W, H) of ``path`` when within ``budget`` pixels (default: :func:`max_pixels`).

    Raises:
        ImageTooLarge: W × H exceeds the budget.
        CorruptImage: the header cannot be read.
    """
    width, height = header_size(path)
    limit = budget if budget is not None else _max_pixels
    if width * height > limit:
        raise ImageTooLarge(f"{path.name}: {width}×{height} = {width * height / 1e6:.1f} million pixels, "
                            f"over the budget of {limit / 1e6:.1f} million pixels ([worker] max_image_pixels)")
    return width, height


def verify_image(path: Path) -> tuple[int, int]:
    """Fully decode ``path`` (at 1/8 scale for JPEG: every scan is still read), return (W, H).

    Raises:
        ImageTooLarge: over the pixel budget (checked on the header, before decoding).
        CorruptImage: truncated or undecodable data.
    """
    check_pixels(path)
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
        ImageTooLarge: over the pixel budget.
        CorruptImage: the file is truncated or undecodable.
    """
    if path.suffix.lower() in FITS_SUFFIXES:
        verify_fits(path)
    else:
        verify_image(path)


def verify_upload(path: Path) -> tuple[int, int]:
    """An uploaded image: :func:`verify_tiff` for TIFF content (multi-band, 16-bit: what the
    vegetation processor reads, beyond Pillow), :func:`verify_image` otherwise; (W, H).

    Raises:
        ImageTooLarge: over the pixel budget.
        CorruptImage: truncated or undecodable.
    """
    return verify_tiff(path) if _is_tiff(path) else verify_image(path)


def verify_tiff(path: Path) -> tuple[int, int]:
    """Decode the first series of a TIFF (any band count and sample type) within the pixel
    budget; returns (W, H).

    Raises:
        ImageTooLarge: over the pixel budget (checked on the header, before decoding).
        CorruptImage: truncated or undecodable data.
    """
    size = check_pixels(path)
    try:
        with tifffile.TiffFile(path) as tif:
            tif.series[0].asarray()
    except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
        raise CorruptImage(f"not a decodable TIFF: {exc}") from None
    return size


def load_rgb(path: Path, max_side_px: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Decode ``path`` to an ``(H, W, 3) uint8`` RGB array whose longer side ≤ ``max_side_px``.

    Large JPEGs are decoded at reduced scale with Pillow's ``draft()`` (DCT scaling: 1/2,
    1/4 or 1/8), then resampled down if still too large. Returns the array, the scale
    factor (decoded width / original width) and the original (W, H) in pixels.

    Raises:
        ImageTooLarge: over the pixel budget (checked on the header, before decoding).
        CorruptImage: truncated or undecodable data.
    """
    check_pixels(path)
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
