"""What every source kind provides (the kinds themselves: :mod:`daemon.sources.registry`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from daemon.http import HttpClient
from daemon.store.models import NewItem


@dataclass(frozen=True)
class Checkpoint:
    """Yielded by a source between pages of a listing: everything yielded before it is to be
    stored now, and then ``state`` (when given) saved as the source's state (see
    :meth:`Source.resume`). So a walk interrupted later keeps what it had found, and a
    high-water mark is saved only once what it vouches for is in the store."""

    state: dict[str, Any] | None = None


Found = NewItem | Checkpoint
PROBE_ITEMS = 1000  # check-source stops counting here


class Source(ABC):
    """A remote place items come from (cf. gallery-dl's extractors).

    Subclasses declare ``kind`` and ``default_layout`` and yield :class:`NewItem` specs;
    they never download files (the downloader does) and never touch SQL (the store does).
    Listings and metadata are fetched with the shared :class:`HttpClient` passed in.
    """

    kind: ClassVar[str]
    lists_everything: ClassVar[bool] = False  # backfill without since/until walks the whole source
    default_layout: ClassVar[str] = "{source}/{t:%Y}/{t:%m}/{t:%d}/{filename}"

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config
        self.state: dict[str, Any] = {}

    def suggest_limits(self, http: HttpClient) -> None:
        """Suggest this source's default politeness for its hosts (API and file hosts) to the
        shared client; ``[http.hosts]`` entries always win. Called when resources are built.
        The default suggests nothing (the ``[http]`` defaults apply)."""
        return None

    def resume(self, state: dict[str, Any]) -> None:
        """The state saved by earlier runs' checkpoints (empty on the first run)."""
        self.state = dict(state)

    @abstractmethod
    def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[Found]:
        """Items a scheduled run at ``now`` (UTC) should make sure are stored, optionally
        with :class:`Checkpoint` markers between pages."""

    @abstractmethod
    def backfill(self, since: str | None, until: str | None, http: HttpClient) -> AsyncIterator[Found]:
        """Items of a past range given as text on the command line (None: unbounded, for
        sources that can list everything; others raise).

        Raises:
            ValueError: a malformed or missing bound, or ``until`` before ``since`` (one-line reason).
        """

    def mission(self, mission_id: int, http: HttpClient) -> AsyncIterator[Found]:
        """Every item of one mission (``harvestd backfill SOURCE --mission ID``).

        Raises:
            ValueError: this kind has no missions.
            SourceError: the mission has nothing in this account.
        """
        raise ValueError(f"source kind {self.kind!r} has no missions (--mission is for slooh sources)")

    def from_rows(self, rows: Any) -> list[NewItem]:
        """Items from a file of the source's own records (``harvestd import``).

        Raises:
            ValueError: this kind cannot import files, or the records are malformed.
        """
        raise ValueError(f"source kind {self.kind!r} cannot import a file")

    def companion_keys(self, key: str) -> tuple[str, ...]:
        """Keys of the items :meth:`enrich` may add beside item ``key`` (a photo's camera file,
        its GeoTIFF). A backfill counts those already stored, so the same range reports the
        same total on every run. Default: none."""
        return ()

    async def probe(self, http: HttpClient) -> str:
        """``harvestd check-source``: sign in where the source has a login and make one
        listing call (the first page a scheduled run would read); returns what it found, in
        a few words.

        Raises:
            SourceError, HttpError: the remote refused or did not answer.
        """
        listed = 0
        newest: NewItem | None = None
        found = self.discover(datetime.now(UTC), http)
        try:
            async for one in found:
                if isinstance(one, Checkpoint):
                    if listed:
                        break  # one page is enough
                    continue
                listed += 1
                if newest is None or _when(one) > _when(newest):
                    newest = one
                if listed >= PROBE_ITEMS:
                    break
        finally:  # a walk left early closes its session (async generators)
            close = getattr(found, "aclose", None)
            if close is not None:
                await close()
        if newest is None:
            return "the listing answered with nothing new for a scheduled run"
        return f"{listed} items listed{'+' if listed >= PROBE_ITEMS else ''}, newest {newest.key}"

    async def enrich(self, specs: list[NewItem], http: HttpClient) -> list[NewItem]:
        """Details only worth fetching for items not stored yet (e.g. each photo's page).

        Called with the new specs only; returns them completed. A spec that cannot be
        completed comes back with ``error`` set (it is stored as failed, with the reason).
        The default returns the specs as they are.
        """
        return specs


def _when(item: NewItem) -> datetime:
    return item.captured_at or datetime.min.replace(tzinfo=UTC)


def require_range(kind: str, since: str | None, until: str | None) -> tuple[str, str]:
    """Both bounds, for kinds that cannot list everything.

    Raises:
        ValueError: a bound is missing.
    """
    if not since or not until:
        raise ValueError(f"source kind {kind!r} needs --since and --until")
    return since, until
