"""Template fields of a Slooh picture (the seed's folder templates; ``shared/reference/slooh.md`` §10).

``{object}`` (from the title, :func:`object_name`), ``{telescope}``, ``{instrument}`` (``Unknown``
when empty), ``{format}`` (``FITS`` for .fit/.fits, ``JPEG`` for .jpg/.jpeg, ``Pictures``
otherwise), ``{filename}``, ``{title}``, ``{date}`` (YYYY-MM-DD, UTC), ``{year}``, ``{month}``,
``{day}``. Every value is sanitised into one byte-capped path segment by
:func:`daemon.library.paths.render_layout`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from daemon.sources.slooh.objects import UNKNOWN, object_name


def file_format(filename: str) -> str:
    """``FITS`` / ``JPEG`` / ``Pictures`` by extension."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix in (".fit", ".fits", ".fts"):
        return "FITS"
    if suffix in (".jpg", ".jpeg"):
        return "JPEG"
    return "Pictures"


def layout_fields(picture: dict[str, Any], filename: str, taken: datetime | None,
                  unknown_object: str = UNKNOWN) -> dict[str, Any]:
    """The fields a layout template may use for one file of a picture record; ``unknown_object``
    is ``{object}`` for a title that names no known object."""
    when = taken or datetime(1970, 1, 1)
    return {
        "object": object_name(picture.get("imageTitle"), unknown_object),
        "telescope": str(picture.get("telescopeName") or "").strip() or UNKNOWN,
        "instrument": str(picture.get("instrumentName") or "").strip() or UNKNOWN,
        "format": file_format(filename),
        "filename": filename,
        "title": str(picture.get("imageTitle") or "").strip() or UNKNOWN,
        "date": f"{when:%Y-%m-%d}", "year": f"{when:%Y}", "month": f"{when:%m}", "day": f"{when:%d}",
    }
