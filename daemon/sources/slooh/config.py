"""``[sources.NAME]`` with ``kind = "slooh"``: mirror a Slooh telescope-service account.

Facts about the remote API are in ``shared/reference/slooh.md`` (hosts §1, login §2,
paging §5, file hosts §8); the defaults below follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from daemon.config.base import BaseUrl, SourceOptions
from daemon.library.paths import render_layout
from daemon.sources.slooh.layout import layout_fields

# the product id S2 and S4 send (shared/reference/slooh.md §1.1)
DEFAULT_PRODUCT_ID = "ee26fb6d-3351-11eb-83b9-0655cc43ca95"
Format = Literal["png", "fits"]
FORMATS: tuple[Format, ...] = ("png", "fits")


class SloohSourceConfig(SourceOptions):
    """Every picture (PNG, ``formats`` "png") and raw FITS frame (``formats`` "fits") of one
    Slooh account, organised by ``layout``.

    Layout fields: ``{object}`` (from the title: ``M42``, ``NGC7000``, ``Jupiter``; common
    names such as "Orion Nebula" → ``M42``; ``unknown_object`` when it names nothing known),
    ``{telescope}``, ``{instrument}``, ``{format}`` (``FITS`` / ``JPEG`` / ``Pictures`` by
    extension), ``{filename}``, ``{title}``, ``{date}`` (YYYY-MM-DD, UTC), ``{year}``,
    ``{month}``, ``{day}``, ``{image_id}``, ``{mission_id}``, ``{source}``.
    ``page_size`` is items per list call (≤ 50: a 50-item page takes ~17 s at Slooh, §9).
    Shared options: :class:`SourceOptions`; the mirror runs daily at 07:30 UTC, a walk may
    take 6 h (a first one lists everything).
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {
        "schedule": "30 7 * * *", "layout": "{object}/{telescope}/{format}/{telescope}_{filename}",
        "run_timeout_s": 6 * 3600.0}

    kind: Literal["slooh"]
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    base_url: BaseUrl = "https://app.slooh.com"
    product_id: str = DEFAULT_PRODUCT_ID
    formats: list[Format] = Field(default_factory=lambda: list(FORMATS), min_length=1)
    unknown_object: str = Field("Unknown", min_length=1, max_length=100)  # {object} of unnamed targets
    page_size: int = Field(50, ge=1, le=100)
    requests_per_minute: float = Field(30.0, gt=0)  # API calls, unless [http.hosts] names the host
    download_requests_per_minute: float = Field(60.0, gt=0)  # per file host (polaris, polaris2)

    @field_validator("layout")
    @classmethod
    def _layout_renders(cls, v: str) -> str:
        fields = layout_fields({"imageTitle": "Orion Nebula (M42)", "telescopeName": "Canary Two"},
                               "m42_20260121_011700_0_q8w3ze_l.png", None)
        # raises LayoutError (a ValueError: reported as this key's error)
        render_layout(v, {**fields, "source": "slooh", "image_id": 1, "mission_id": 1})
        return v

    @field_validator("formats")
    @classmethod
    def _unique(cls, v: list[Format]) -> list[Format]:
        return list(dict.fromkeys(v))
