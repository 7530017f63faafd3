"""The header summary of a FITS frame for the telescope archive page, read with astropy
(``astropy.io.fits``, the field's standard reader): OBJECT, TELESCOP, INSTRUME, FILTER,
EXPTIME (s) and DATE-OBS of the primary header (FITS Standard 4.0 §4.4.2: reserved keywords).
Only the header is read, never the data; a file that is not FITS gets ``{"error": …}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

KEYS = ("OBJECT", "TELESCOP", "INSTRUME", "FILTER", "EXPTIME", "DATE-OBS")


def header_summary(path: Path) -> dict[str, Any]:
    """``{KEY: value}`` of :data:`KEYS` present in the primary header (blocking: a thread)."""
    from astropy.io import fits

    try:
        header = fits.getheader(path, 0)
    except (OSError, ValueError, TypeError) as exc:
        return {"error": f"not a readable FITS header: {exc}"[:200]}
    out: dict[str, Any] = {}
    for key in KEYS:
        if key in header:
            value = header[key]
            out[key] = value if isinstance(value, int | float | str | bool) else str(value)
    return out
