"""What every source kind provides, and the registry mapping ``kind`` to a class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from daemon.http import HttpClient
from daemon.store.models import NewItem


class Source(ABC):
    """A remote place items come from (cf. gallery-dl's extractors).

    Subclasses declare ``kind`` and ``default_layout`` and yield :class:`NewItem` specs;
    they never download files (the downloader does) and never touch SQL (the store does).
    Listings and metadata are fetched with the shared :class:`HttpClient` passed in.
    """

    kind: ClassVar[str]
    default_layout: ClassVar[str] = "{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}"

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[NewItem]:
        """Items a scheduled run at ``now`` (UTC) should make sure are stored."""

    @abstractmethod
    def backfill(self, since: str, until: str, http: HttpClient) -> AsyncIterator[NewItem]:
        """Items of a past range given as text on the command line.

        Raises:
            ValueError: a malformed bound or ``until`` before ``since`` (one-line reason).
        """

    def from_rows(self, rows: Any) -> list[NewItem]:
        """Items from a file of the source's own records (``harvestd import``).

        Raises:
            ValueError: this kind cannot import files, or the records are malformed.
        """
        raise ValueError(f"source kind {self.kind!r} cannot import a file")

    async def enrich(self, specs: list[NewItem], http: HttpClient) -> list[NewItem]:
        """Details only worth fetching for items not stored yet (e.g. each photo's page).

        Called with the new specs only; returns them completed. A spec that cannot be
        completed comes back with ``error`` set (it is stored as failed, with the reason).
        The default returns the specs as they are.
        """
        return specs


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
