"""``[sources.NAME]`` with ``kind = "skycam"``: a sky camera publishing one JPEG per slot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from daemon.config_base import _check_zone, _RemoteSource


class SkycamSourceConfig(_RemoteSource):
    """``[sources.NAME]`` with ``kind = "skycam"``: a sky camera publishing one JPEG per slot.

    ``url_template`` fields: ``{t:FMT}`` strftime of the slot time in ``timezone``;
    ``{year_dir}`` is ``"YYYY/"`` for a slot in a year before the current one, else ``""``.
    """

    kind: Literal["skycam"]
    url_template: str
    minutes: list[Annotated[int, Field(ge=0, le=59)]] = Field(min_length=1)
    timezone: str = "UTC"
    schedule: str = "*/10 * * * *"
    jitter_s: int = Field(0, ge=0, le=3600)
    misfire_grace_s: int = Field(300, ge=1)
    run_on_start: bool = True
    lookback_s: float = Field(3600.0, gt=0, le=7 * 86400)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    processors: list[str] = Field(default_factory=lambda: ["octas"])
    layout: str = "{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}"
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, v: str) -> str:
        return _check_zone(v)

    @field_validator("minutes")
    @classmethod
    def _unique_sorted(cls, v: list[int]) -> list[int]:
        return sorted(set(v))

    @field_validator("url_template")
    @classmethod
    def _template_renders(cls, v: str) -> str:
        from daemon.sources.skycam import render_url  # local: sources depend on config

        try:
            render_url(v, datetime(2000, 1, 2, 3, 4), current_year=2000)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"url_template does not render: {exc!r}") from None
        if not v.startswith(("http://", "https://")):
            raise ValueError("url_template must start with http:// or https://")
        return v
