"""The source kinds: ``kind`` → (config model, source class).

Adding a kind is one folder (``sources/<kind>/config.py`` with a :class:`SourceOptions`
model, ``sources/<kind>/source.py`` with a :class:`Source`) and one :func:`register` line
below; the config, the scheduler, backfills, imports, tasks and ``check-source`` find it
here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.config.base import SourceOptions
from daemon.errors import ConfigError
from daemon.sources.base import Source
from daemon.sources.nasa_iss.config import NasaIssSourceConfig
from daemon.sources.nasa_iss.source import NasaIssSource
from daemon.sources.skycam.config import SkycamSourceConfig
from daemon.sources.skycam.source import SkycamSource
from daemon.sources.slooh.config import SloohSourceConfig
from daemon.sources.slooh.source import SloohSource


@dataclass(frozen=True)
class SourceKind:
    """One kind of source: its ``name`` (the ``kind`` key), ``config`` model and ``source`` class."""

    name: str
    config: type[SourceOptions]
    source: type[Source]


_KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    """Add a source kind (a later registration of the same name replaces it)."""
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that add a toy kind)."""
    _KINDS.pop(name, None)


def kinds() -> list[str]:
    """Every registered kind, sorted."""
    return sorted(_KINDS)


def config_model(kind: str) -> type[SourceOptions] | None:
    """The config model of ``kind`` (None: not registered)."""
    found = _KINDS.get(kind)
    return found.config if found else None


def build_source(name: str, config: SourceOptions) -> Source:
    """The source object for ``[sources.NAME]``.

    Raises:
        ConfigError: no kind of that name is registered.
    """
    found = _KINDS.get(config.kind)
    if found is None:
        raise ConfigError(f"sources.{name}: unknown source kind {config.kind!r}")
    return found.source(name, config)


register(SourceKind("skycam", SkycamSourceConfig, SkycamSource))
register(SourceKind("nasa_iss", NasaIssSourceConfig, NasaIssSource))
register(SourceKind("slooh", SloohSourceConfig, SloohSource))
