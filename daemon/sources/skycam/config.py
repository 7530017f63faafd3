"""``[sources.NAME]`` with ``kind = "skycam"``: a sky camera publishing one JPEG per slot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from daemon.config.base import SourceOptions, check_zone
from daemon.sources.skycam.slots import render_url


class SkycamSourceConfig(SourceOptions):
    """``[sources.NAME]`` with ``kind = "skycam"``: a sky camera publishing one JPEG per slot.

    ``url_template`` fields: ``{t:FMT}`` strftime of the slot time in ``timezone``;
    ``{year_dir}`` is ``"YYYY/"`` for a slot in a year before the current one, else ``""``.
    Shared options (schedule, processors, layout…): :class:`SourceOptions`; a camera runs
    every 10 minutes from daemon start and classifies octas by default.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {
        "schedule": "*/10 * * * *", "misfire_grace_s": 300, "run_on_start": True,
        "processors": ("octas",)}

    kind: Literal["skycam"]
    url_template: str
    minutes: list[Annotated[int, Field(ge=0, le=59)]] = Field(min_length=1)
    timezone: str = "UTC"
    lookback_s: float = Field(3600.0, gt=0, le=7 * 86400)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, v: str) -> str:
        return check_zone(v)

    @field_validator("minutes")
    @classmethod
    def _unique_sorted(cls, v: list[int]) -> list[int]:
        return sorted(set(v))

    @field_validator("url_template")
    @classmethod
    def _template_renders(cls, v: str) -> str:
        try:
            render_url(v, datetime(2000, 1, 2, 3, 4), current_year=2000)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"url_template does not render: {exc!r}") from None
        if not v.startswith(("http://", "https://")):
            raise ValueError("url_template must start with http:// or https://")
        return v
