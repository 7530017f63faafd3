"""``[sources.NAME]`` with ``kind = "toy"``: numbered files on a static host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from daemon.config.base import BaseUrl, SourceOptions


class ToySourceConfig(SourceOptions):
    """Files ``{base_url}/files/toy-{n}.bin`` for ``n`` in 0…``count``−1; a scheduled run
    lists them all, a backfill the numbers ``since``…``until``."""

    option_defaults: ClassVar[Mapping[str, Any]] = {"schedule": "*/5 * * * *", "layout": "{source}/{filename}"}

    kind: Literal["toy"]
    base_url: BaseUrl
    count: int = Field(3, ge=1, le=1000)
