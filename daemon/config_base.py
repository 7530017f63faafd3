"""Shared pieces of the configuration models (kept apart so source configs can use them)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RemoteSource(_Model):
    """Validators of the source configs: a cron ``schedule``, an http(s) ``base_url`` (for
    those that have one); ``stale_after_s``: the source counts as failing when nothing of it
    was downloaded for this long (a camera that publishes every 10 minutes: e.g. 3600);
    unset, only failures count."""

    stale_after_s: float | None = Field(None, gt=0)

    @field_validator("schedule", check_fields=False)
    @classmethod
    def _valid_schedule(cls, v: str) -> str:
        return _check_cron(v)

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _valid_base(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return v.rstrip("/")


def _check_cron(expr: str) -> str:
    try:
        CronTrigger.from_crontab(expr, timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
    return expr


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name
