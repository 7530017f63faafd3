"""The root model of ``config.toml``: every table, validated together.

Component tables come from :mod:`daemon.config.settings` and :mod:`daemon.config.api`;
a ``[sources.NAME]`` table is validated by the model its ``kind`` names in the source
registry (:mod:`daemon.sources.registry`), a ``[processors.NAME]`` table by the processor
kinds (:mod:`daemon.worker.processors.kinds`). Loading and error reporting:
:mod:`daemon.config.load`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field, SerializeAsAny, WrapValidator, field_validator, model_validator

from daemon.config.api import ApiSettings, UploadSettings
from daemon.config.base import KindDispatch, Model, SourceOptions
from daemon.config.settings import (
    DaemonSettings,
    DownloadSettings,
    HttpSettings,
    LibrarySettings,
    StoreSettings,
    WorkerSettings,
)
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.sources import registry as source_registry
from daemon.worker.processors import kinds as processor_kinds

if TYPE_CHECKING:
    from daemon.worker.processors.kinds import ProcessorSettings


def processor_kinds_named(tables: Any) -> Any:
    """``[processors.NAME]`` tables with ``kind`` defaulting to NAME (other input unchanged)."""
    if isinstance(tables, dict):
        return {name: ({"kind": name, **table} if isinstance(table, dict) and "kind" not in table
                       else table) for name, table in tables.items()}
    return tables


SOURCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
BUILTIN_GEO_MODELS = ("ndvi", "savi", "ndwi")  # daemon.geo.indices
SOURCE_DISPATCH = KindDispatch("source", source_registry.config_model, source_registry.kinds)
PROCESSOR_DISPATCH = KindDispatch("processor", processor_kinds.config_model, processor_kinds.kinds)
AnySource = Annotated[SerializeAsAny[SourceOptions], WrapValidator(SOURCE_DISPATCH)]
AnyProcessor = Annotated[SerializeAsAny[Model], WrapValidator(PROCESSOR_DISPATCH)]


class Config(Model):
    """The whole ``config.toml``. Paths are absolute after :func:`load_config`."""

    data_dir: Path = Path("data")
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    downloads: DownloadSettings = Field(default_factory=DownloadSettings)
    library: LibrarySettings = Field(default_factory=LibrarySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    processors: dict[str, AnyProcessor] = Field(default_factory=dict)
    sources: dict[str, AnySource] = Field(default_factory=dict)
    geo: GeoSettings = Field(default_factory=GeoSettings)
    models: dict[str, GeoModelSettings] = Field(default_factory=dict)

    @field_validator("sources", mode="before")
    @classmethod
    def _plain_names(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for name in v:
                if not SOURCE_NAME.fullmatch(str(name)):
                    raise ValueError(f"source name {name!r}: use letters, digits, '_', '-' and '.' "
                                     "(it names folders, log fields and metrics)")
        return v

    @field_validator("models", mode="before")
    @classmethod
    def _not_builtin(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for name in v:
                if name in BUILTIN_GEO_MODELS:
                    raise ValueError(f"models.{name}: {name!r} is a built-in model (choose another name)")
        return v

    @field_validator("processors", mode="before")
    @classmethod
    def _kind_defaults_to_name(cls, v: Any) -> Any:
        return processor_kinds_named(v)

    @model_validator(mode="after")
    def _processors_exist(self) -> Config:
        for name, src in self.sources.items():
            for proc in src.processors:
                if proc not in self.processors and proc not in processor_kinds.BUILTIN:
                    raise ValueError(
                        f"sources.{name}.processors: unknown processor {proc!r} "
                        f"(define [processors.{proc}])"
                    )
        for proc in self.uploads.processors:
            if proc not in self.processors and proc not in processor_kinds.BUILTIN:
                raise ValueError(f"uploads.processors: unknown processor {proc!r} (define [processors.{proc}])")
        return self

    @property
    def db_path(self) -> Path:
        """The SQLite file: ``[store] path`` or ``{data_dir}/harvest.db``."""
        return self.store.path or self.data_dir / "harvest.db"

    def processor(self, name: str) -> ProcessorSettings:
        """The processor config for ``name`` (built-in defaults when not configured)."""
        configured = self.processors.get(name)
        if configured is None:
            return processor_kinds.default_config(name)
        return cast("ProcessorSettings", configured)  # validated by its kind's model

    def processor_configs(self) -> dict[str, ProcessorSettings]:
        """name → config of every processor a source, an upload or a ``[processors]`` table names."""
        names = ({p for src in self.sources.values() for p in src.processors} | set(self.processors)
                 | set(self.uploads.processors))
        return {name: self.processor(name) for name in sorted(names)}
