"""``[sources.NAME]`` with ``kind = "slooh"``: mirror a Slooh telescope-service account.

Facts about the remote API are in ``shared/reference/slooh.md`` (hosts §1, login §2,
paging §5, file hosts §8); the defaults below follow it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from daemon.config_base import _RemoteSource

# the product id S2 and S4 send (shared/reference/slooh.md §1.1)
DEFAULT_PRODUCT_ID = "ee26fb6d-3351-11eb-83b9-0655cc43ca95"
Format = Literal["png", "fits"]
FORMATS: tuple[Format, ...] = ("png", "fits")


class SloohSourceConfig(_RemoteSource):
    """Every picture (PNG, ``formats`` "png") and raw FITS frame (``formats`` "fits") of one
    Slooh account, organised by ``layout``.

    Layout fields: ``{object}`` (from the title: ``M42``, ``NGC7000``, ``Jupiter``; common
    names such as "Orion Nebula" → ``M42``; ``unknown_object`` when it names nothing known),
    ``{telescope}``, ``{instrument}``, ``{format}`` (``FITS`` / ``JPEG`` / ``Pictures`` by
    extension), ``{filename}``, ``{title}``, ``{date}`` (YYYY-MM-DD, UTC), ``{year}``,
    ``{month}``, ``{day}``, ``{image_id}``, ``{mission_id}``, ``{source}``.
    ``duplicates`` is the policy for a file already at the path (skip | overwrite | rename);
    unset, ``[downloads] on_existing`` applies. ``page_size`` is items per list call
    (≤ 50: a 50-item page takes ~17 s at Slooh, §9).
    """

    kind: Literal["slooh"]
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    base_url: str = "https://app.slooh.com"
    product_id: str = DEFAULT_PRODUCT_ID
    schedule: str = "30 7 * * *"
    jitter_s: int = Field(0, ge=0, le=3600)
    misfire_grace_s: int = Field(3600, ge=1)
    run_on_start: bool = False
    formats: list[Format] = Field(default_factory=lambda: list(FORMATS), min_length=1)
    layout: str = "{object}/{telescope}/{format}/{telescope}_{filename}"
    unknown_object: str = Field("Unknown", min_length=1, max_length=100)  # {object} of unnamed targets
    duplicates: Literal["skip", "overwrite", "rename"] | None = None
    page_size: int = Field(50, ge=1, le=100)
    run_timeout_s: float = Field(6 * 3600.0, gt=0)  # one scheduled walk (a first one lists everything)
    requests_per_minute: float = Field(30.0, gt=0)  # API calls, unless [http.hosts] names the host
    download_requests_per_minute: float = Field(60.0, gt=0)  # per file host (polaris, polaris2)
    processors: list[str] = Field(default_factory=list)
    enabled: bool = True


    @field_validator("layout")
    @classmethod
    def _layout_renders(cls, v: str) -> str:
        from daemon.downloads.layout import render_layout  # local: sources depend on config
        from daemon.sources.slooh.layout import layout_fields

        fields = layout_fields({"imageTitle": "Orion Nebula (M42)", "telescopeName": "Canary Two"},
                               "m42_20260121_011700_0_q8w3ze_l.png", None)
        # raises LayoutError (a ValueError: reported as this key's error)
        render_layout(v, {**fields, "source": "slooh", "image_id": 1, "mission_id": 1})
        return v

    @field_validator("formats")
    @classmethod
    def _unique(cls, v: list[Format]) -> list[Format]:
        return list(dict.fromkeys(v))
