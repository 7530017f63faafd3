"""``[sources.NAME]`` with ``kind = "nasa_iss"``: NASA ISS Earth photos (eol.jsc.nasa.gov)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from daemon.config.base import BaseUrl, SourceOptions
from daemon.library.paths import render_layout


class NasaIssSourceConfig(SourceOptions):
    """Mirror the photos matching every given condition (missions, box, dates, time of day).

    ``bbox`` = (lat_min, lon_min, lat_max, lon_max) of the photo centre, degrees.
    ``since`` / ``until`` bound the GMT photo date; a scheduled run without ``since`` looks back
    ``lookback_days``. Queries are split into ``window_days`` windows so no answer is unbounded.
    Layout fields: ``{year}``, ``{month}``, ``{mission}``, ``{roll}``, ``{frame}``, ``{camera}``,
    ``{nasa_id}``, ``{filename}``, ``{source}``.
    Shared options (schedule, processors, layout…): :class:`SourceOptions`; the mirror runs
    daily at 02:00 UTC by default.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {
        "schedule": "0 2 * * *", "layout": "{source}/{year}/{mission}/{camera}/{filename}"}

    kind: Literal["nasa_iss"]
    api_key: str = Field(min_length=1)
    base_url: BaseUrl = "https://eol.jsc.nasa.gov"
    missions: list[str] = Field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    since: date | None = None
    until: date | None = None
    lookback_days: int = Field(14, ge=1, le=3650)
    window_days: int = Field(31, ge=1, le=3650)  # the first (and smallest) query window
    max_window_days: int = Field(3650, ge=1, le=36500)  # windows grow to this while answers are empty
    max_rows_per_query: int = Field(2000, ge=1)  # a larger answer shrinks the next window
    time_of_day: Literal["day", "night", "any"] = "any"
    image_size: Literal["large", "small"] = "large"
    camera_metadata: bool = True
    geotiff: bool = True
    page_concurrency: int = Field(4, ge=1, le=32)  # photo pages fetched at once
    requests_per_minute: float = Field(60.0, gt=0)  # to the site, unless [http.hosts] names it

    @field_validator("layout")
    @classmethod
    def _layout_renders(cls, v: str) -> str:
        render_layout(v, {"source": "iss", "year": "2003", "month": "04", "mission": "ISS006", "roll": "E",
                          "frame": "44608", "camera": "E4", "nasa_id": "ISS006-E-44608",
                          "filename": "ISS006-E-44608.JPG"})  # LayoutError is a ValueError: this key's error
        return v

    @field_validator("missions")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [m.strip().upper() for m in v if m.strip()]

    @model_validator(mode="after")
    def _valid_box_and_dates(self) -> NasaIssSourceConfig:
        if self.bbox is not None:
            lat_min, lon_min, lat_max, lon_max = self.bbox
            if not (-90 <= lat_min <= lat_max <= 90 and -180 <= lon_min <= lon_max <= 180):
                raise ValueError("bbox must be [lat_min, lon_min, lat_max, lon_max] in degrees, min ≤ max")
        if self.since and self.until and self.until < self.since:
            raise ValueError("until is before since")
        if self.max_window_days < self.window_days:
            raise ValueError("max_window_days is below window_days")
        return self
