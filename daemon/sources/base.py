"""What every source kind provides, and the registry mapping ``kind`` to a class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from daemon.store.models import NewItem


class Source(ABC):
    """A remote place items come from (cf. gallery-dl's extractors).

    Subclasses declare ``kind`` and ``default_layout`` and yield :class:`NewItem` specs;
    they never download (the downloader does) and never touch SQL (the store does).
    """

    kind: ClassVar[str]
    default_layout: ClassVar[str] = "{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}"

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def discover(self, now: datetime) -> AsyncIterator[NewItem]:
        """Items a scheduled run at ``now`` (UTC) should make sure are stored."""

    @abstractmethod
    def backfill(self, since: str, until: str) -> AsyncIterator[NewItem]:
        """Items of a past range given as text on the command line.

        Raises:
            ValueError: a malformed bound or ``until`` before ``since`` (one-line reason).
        """


_REGISTRY: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator adding a source kind to the registry."""
    _REGISTRY[cls.kind] = cls
    return cls


def build_source(name: str, config: BaseModel) -> Source:
    """Instantiate the source class for ``config.kind``.

    Raises:
        KeyError: no source of that kind is registered.
    """
    kind = getattr(config, "kind")  # noqa: B009 - every source config has one
    return _REGISTRY[kind](name, config)
