"""The pieces every configuration model is built from.

:class:`Model` is the base of every table (unknown keys are errors, values frozen).
:class:`SourceOptions` declares, once, the options every ``[sources.NAME]`` table has;
a source kind's model (``sources/<kind>/config.py``) subclasses it, adds its own keys and
changes the defaults it needs through ``option_defaults`` (cf. gallery-dl's extractor
class attributes). :class:`KindDispatch` picks the model of a table from its ``kind``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

Duplicates = Literal["skip", "overwrite", "rename"]


class Model(BaseModel):
    """A config table: unknown keys are errors, values are frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceOptions(Model):
    """The options of every ``[sources.NAME]`` table, whatever its ``kind``.

    ``schedule``: cron expression (UTC) of scheduled runs; ``jitter_s``: random delay added
    to each run; ``misfire_grace_s``: a run missed by less than this (the daemon was down)
    still runs; ``run_on_start``: one run at daemon start; ``processors``: what the worker
    runs on each downloaded file; ``layout``: the library path template (fields per kind);
    ``duplicates``: the policy for a file already at the path (skip | overwrite | rename;
    unset: ``[downloads] on_existing``); ``run_timeout_s``: a scheduled run is cancelled
    after this long; ``stale_after_s``: the source counts as failing when nothing of it was
    downloaded for this long (unset: only failures count); ``enabled``: false keeps the
    table but schedules nothing.

    A kind changes a default by naming it in ``option_defaults``; the defaults below apply
    otherwise.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {}

    kind: str
    enabled: bool = True
    schedule: str = "0 * * * *"
    jitter_s: int = Field(0, ge=0, le=3600)
    misfire_grace_s: int = Field(3600, ge=1)
    run_on_start: bool = False
    processors: list[str] = Field(default_factory=list)
    layout: str = "{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}"
    duplicates: Duplicates | None = None
    run_timeout_s: float = Field(600.0, gt=0)
    stale_after_s: float | None = Field(None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.option_defaults:
            return {**cls.option_defaults, **data}
        return data

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, v: str) -> str:
        return check_cron(v)


def check_cron(expr: str) -> str:
    """``expr`` if it is a valid 5-field crontab expression.

    Raises:
        ValueError: APScheduler's reason, with the expression.
    """
    try:
        CronTrigger.from_crontab(expr, timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
    return expr


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone known to this system.

    Raises:
        ValueError: unknown zone.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def check_base_url(url: str) -> str:
    """An http(s) base URL without its trailing slash.

    Raises:
        ValueError: another scheme.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    return url.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(check_base_url)]  # a kind's http(s) ``base_url``


class KindDispatch:
    """Validates a table with the model its ``kind`` names (``lookup(kind)``; None: unknown).

    Used as ``Annotated[Base, WrapValidator(dispatch)]`` so kinds can be registered without
    editing the root model, and so errors keep the table's own key path
    (``sources.NAME.key``). ``kind_from_name``: a table without ``kind`` takes its own name
    as the kind (``[processors.octas]``), which the root model fills in before validation.
    """

    def __init__(self, what: str, lookup: Callable[[str], type[BaseModel] | None],
                 kinds: Callable[[], list[str]]) -> None:
        self.what = what
        self.lookup = lookup
        self.kinds = kinds

    def model_for(self, value: Any) -> type[BaseModel] | None:
        """The model for a raw table (None: not a table, or an unknown kind)."""
        if not isinstance(value, dict):
            return None
        kind = value.get("kind")
        return self.lookup(kind) if isinstance(kind, str) else None

    def __call__(self, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, BaseModel):
            return handler(value)
        if not isinstance(value, dict):
            raise ValueError(f"a {self.what} must be a table")
        kind = value.get("kind")
        model = self.model_for(value)
        if model is None:
            known = ", ".join(repr(k) for k in self.kinds())
            if kind is None:
                raise ValueError(f"kind is missing (one of {known})")
            raise ValueError(f"unknown {self.what} kind {kind!r} (one of {known})")
        return model.model_validate(value)
