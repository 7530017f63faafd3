"""Slooh list records → item specs (``shared/reference/slooh.md`` §4.5, §4.6, §8, §10).

A photo-roll picture becomes item ``{imageId}:png`` (the processed PNG at
``imageDownloadURL``); a FITS entry of a mission becomes ``{imageId}:fits`` (the ``.fit`` at
its ``imageURL``), named like the seed's tracker keys. The ``?rand=`` cache-buster is
stripped from URLs (it changes on every listing). The file name is the URL's basename, else
``imageDownloadFilename`` (pictures) or ``imageTitle`` (FITS), else ``{imageId}.png|.fit``.
FITS inherit title, telescope and date from their mission; their capture time comes from the
``_YYYYMMDD_HHMMSS_`` in the file name (UTC, §6) when present.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from daemon.sources.slooh.dates import picture_time
from daemon.sources.slooh.layout import layout_fields
from daemon.sources.slooh.objects import UNKNOWN
from daemon.sources.slooh.paging import parse_count
from daemon.store.models import NewItem

NOT_AVAILABLE = "Not available"  # overlayData.owner sentinel
_NAME_TIME = re.compile(r"_(\d{8})_(\d{6})_")
_FILTER = re.compile(r"_([a-z]+)(?:_cal)?$")


def clean_url(url: str) -> str:
    """``url`` without its ``rand`` cache-buster (other query parameters kept)."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "rand"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def url_filename(url: str) -> str:
    """The percent-decoded last path segment of ``url`` ("" when it has none)."""
    return unquote(PurePosixPath(urlsplit(url).path).name)


def name_time(filename: str) -> datetime | None:
    """The UTC capture time in a Slooh file name (``m42_20260121_011700_0_q8w3ze_l.png``)."""
    if m := _NAME_TIME.search(filename):
        try:
            return datetime.strptime(m[1] + m[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def filter_code(filename: str) -> str | None:
    """The filter/product suffix (``l``, ``r``, ``lrgb``, ``m``…; §7), or None."""
    m = _FILTER.search(PurePosixPath(filename).stem)
    return m.group(1) if m else None


def _owner(record: dict[str, Any]) -> str | None:
    overlay = record.get("overlayData")
    owner = overlay.get("owner") if isinstance(overlay, dict) else record.get("missionOwner")
    text = str(owner or "").strip()
    return None if not text or text == NOT_AVAILABLE else text


def _id_and_url(record: dict[str, Any], *url_keys: str) -> tuple[int, str] | None:
    """(imageId, URL without ``rand``) of a record, None without an id or an http(s) URL."""
    image_id = parse_count(record.get("imageId"))
    raw_url = next((str(record[k]).strip() for k in url_keys if record.get(k)), "")
    if not image_id or not raw_url.startswith(("http://", "https://")):
        return None
    return image_id, clean_url(raw_url)


def _item(source: str, layout: str, key: str, url: str, filename: str, record: dict[str, Any],
          taken: datetime | None, processors: tuple[str, ...], metadata: dict[str, Any],
          instrument: str | None = None, unknown_object: str = UNKNOWN) -> NewItem:
    fields = layout_fields(record, filename, taken, unknown_object)
    if instrument:
        fields["instrument"] = instrument
    fields.update(source=source, image_id=metadata["image_id"], mission_id=metadata.get("mission_id") or 0)
    metadata = {**metadata, "title": fields["title"], "object": fields["object"],
                "telescope": fields["telescope"], "instrument": fields["instrument"],
                "filename": filename, "filter": filter_code(filename), "owner": _owner(record),
                "captured_at_known": taken is not None}
    return NewItem(key=key, url=url, captured_at=taken or datetime.now(UTC), processors=processors,
                   metadata=metadata, layout=layout, fields=fields)


def picture_item(source: str, layout: str, picture: dict[str, Any],
                 processors: tuple[str, ...] = (), unknown_object: str = UNKNOWN) -> NewItem | None:
    """The item of one photo-roll picture, or None when it has no image id or download URL.

    The path is rendered from ``layout`` by the pipeline.
    """
    found = _id_and_url(picture, "imageDownloadURL", "imageURL")
    if found is None:
        return None
    image_id, url = found
    filename = (url_filename(url) or str(picture.get("imageDownloadFilename") or "").strip()
                or f"{image_id}.png")
    metadata = {"kind": "slooh_picture", "image_id": image_id,
                "customer_image_id": parse_count(picture.get("customerImageId")),
                "mission_id": parse_count(picture.get("scheduledMissionId")),
                "display_date": picture.get("displayDate"), "display_time": picture.get("displayTime")}
    return _item(source, layout, f"{image_id}:png", url, filename, picture, picture_time(picture),
                 processors, metadata, unknown_object=unknown_object)


def fits_item(source: str, layout: str, mission: dict[str, Any], group: str,
              entry: dict[str, Any], unknown_object: str = UNKNOWN) -> NewItem | None:
    """The item of one FITS frame of ``mission`` (a getMissionImages record), or None when
    it has no image id or URL. The path is rendered from ``layout`` by the pipeline.
    """
    found = _id_and_url(entry, "imageURL", "imageUrl")
    if found is None:
        return None
    image_id, url = found
    filename = url_filename(url) or str(entry.get("imageTitle") or "").strip() or f"{image_id}.fit"
    taken = name_time(filename) or picture_time(mission)
    metadata = {"kind": "slooh_fits", "image_id": image_id,
                "mission_id": parse_count(mission.get("scheduledMissionId")), "group": group or None}
    return _item(source, layout, f"{image_id}:fits", url, filename, mission, taken, (), metadata,
                 instrument=group or None, unknown_object=unknown_object)
