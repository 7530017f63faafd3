"""Source kind ``slooh``: every picture and FITS frame of one Slooh account.

A run logs in (:class:`SloohApi`), then walks two newest-first lists page by page
(:func:`walk_pages`, 1-based, never dropping the last item):

- ``png``: the photo roll (``getMyPictures``, ``viewType`` photoRoll) → one item per picture;
- ``fits``: the missions (``getMissionImages``) → for each mission with FITS,
  ``getMissionFITS`` → one item per frame.

After each page a :class:`Checkpoint` has the page stored (the store's ``UNIQUE(source,
key)`` is the download tracker). Incremental runs stop at the page holding a *mark*: the ids
of the top page of the last walk that completed (reached its mark or the end of the list).
The mark is saved only when a walk completes, i.e. once every page between the old mark and
the top is stored; a run that fails or is interrupted keeps its pages and its old mark, so
the next run walks down to the old mark again and leaves no hole. While a missions walk is
unfinished, the missions whose FITS lists were stored are saved after each page, so a
resumed walk does not ask for those lists again (one call per mission on the real site). New pictures arriving
mid-walk shift positions down; items are de-duplicated by key, so nothing is skipped.
``harvestd backfill`` walks everything (optionally only a date window) and moves no mark.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import structlog

from daemon.config import HostLimit
from daemon.config_slooh import SloohSourceConfig
from daemon.http import HttpClient
from daemon.sources.base import Checkpoint, Found, Source, register
from daemon.sources.slooh.api import Page, SloohApi, is_true
from daemon.sources.slooh.dates import picture_time
from daemon.sources.slooh.paging import parse_count, walk_pages
from daemon.sources.slooh.records import fits_item, picture_item
from daemon.store.models import NewItem

log = structlog.get_logger("daemon.sources.slooh")
FILE_HOSTS = ("https://polaris.slooh.com/", "https://polaris2.slooh.com/")  # FITS, PNG (§8)
PICTURES_MARK = "pictures_mark"
MISSIONS_MARK = "missions_mark"
MISSIONS_LISTED = "missions_listed"  # of an unfinished walk: missions whose FITS are stored


def parse_window(since: str | None, until: str | None) -> tuple[date, date] | None:
    """``--since`` / ``--until`` (YYYY-MM-DD, UTC; either may be missing) → a date window.

    Raises:
        ValueError: a malformed date or ``until`` before ``since``.
    """
    if not since and not until:
        return None
    try:
        start = date.fromisoformat(since.strip()[:10]) if since else date.min
        end = date.fromisoformat(until.strip()[:10]) if until else date.max
    except ValueError:
        raise ValueError(f"not a date (want YYYY-MM-DD): {since!r} / {until!r}") from None
    if end < start:
        raise ValueError(f"--until {until} is before --since {since}")
    return start, end


class _Walk:
    """One newest-first list walked for a run: stop at the mark, remember the new top."""

    def __init__(self, mark: list[int] | None, full: bool) -> None:
        self.mark = set(mark or ())
        self.full = full
        self.top: list[int] | None = None
        self.reached = False
        self.totals: list[int] = []  # the list's total as each page reported it

    def note_total(self, total: int | None) -> None:
        if total is not None:
            self.totals.append(total)

    @property
    def shrank(self) -> bool:
        """The list lost items during the walk (a deletion shifts later items up a position,
        so one may have been stepped over): the mark must not move past it."""
        return any(later < earlier for earlier, later in zip(self.totals, self.totals[1:], strict=False))

    def new_part(self, page: list[dict[str, Any]], id_key: str) -> list[dict[str, Any]]:
        """The records of ``page`` above the mark (all of them when walking in full); notes
        the first page's ids as the new top and whether the mark was reached."""
        ids = [parse_count(r.get(id_key)) for r in page]
        if self.top is None:
            self.top = [i for i in ids if i]
        if self.full:
            return page
        for n, record_id in enumerate(ids):
            if record_id in self.mark:  # newest first: what follows was covered by the last walk
                self.reached = True
                return page[:n]
        return page


@register
class SloohSource(Source):
    """``kind = "slooh"`` (see the module docstring)."""

    kind: ClassVar[str] = "slooh"
    lists_everything: ClassVar[bool] = True
    config: SloohSourceConfig

    def __init__(self, name: str, config: SloohSourceConfig) -> None:
        super().__init__(name, config)

    def suggest_limits(self, http: HttpClient) -> None:
        """API calls one at a time at ``requests_per_minute``; the file hosts of §8 (and any
        other one the lists point to, when seen) at ``download_requests_per_minute``."""
        cfg = self.config
        http.suggest_host_limit(cfg.base_url, HostLimit(requests_per_minute=cfg.requests_per_minute,
                                                        max_concurrent=1))
        for host in FILE_HOSTS:
            self._polite_files(http, host)

    def _polite_files(self, http: HttpClient, url: str) -> None:
        """The download pace for ``url``'s host (idempotent; never the API host's)."""
        if urlsplit(url).netloc != urlsplit(self.config.base_url).netloc:
            http.suggest_host_limit(url, HostLimit(
                requests_per_minute=self.config.download_requests_per_minute, max_concurrent=4))

    def _api(self, http: HttpClient) -> SloohApi:
        cfg = self.config
        self.suggest_limits(http)
        return SloohApi(http, cfg.base_url, cfg.username, cfg.password, cfg.product_id)

    def _found(self, http: HttpClient, item: NewItem) -> NewItem:
        self._polite_files(http, item.url)
        return item

    async def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[Found]:
        """New pictures and FITS since the marks (see the module docstring)."""
        async for found in self._walk(http, full=False, window=None):
            yield found

    async def backfill(self, since: str | None, until: str | None, http: HttpClient) -> AsyncIterator[Found]:
        """Everything, or what was captured in ``[since, until]`` (UTC dates, either optional)."""
        window = parse_window(since, until)
        async for found in self._walk(http, full=True, window=window):
            if not isinstance(found, Checkpoint):
                yield found

    async def _walk(self, http: HttpClient, full: bool, window: tuple[date, date] | None,
                    ) -> AsyncIterator[Found]:
        api = self._api(http)
        # the first call logs in (so an empty first page right after it is not taken for an expiry)
        if "png" in self.config.formats:
            async for found in self._pictures(api, _Walk(self.state.get(PICTURES_MARK), full), window):
                yield found
        if "fits" in self.config.formats:
            async for found in self._fits(api, _Walk(self.state.get(MISSIONS_MARK), full), window):
                yield found

    async def _pages(self, fetch: Callable[[int, int], Awaitable[Page]], walk: _Walk,
                     ) -> AsyncIterator[list[dict[str, Any]]]:
        async def one(first: int, count: int) -> tuple[list[dict[str, Any]], Any]:
            page = await fetch(first, count)
            walk.note_total(page.total)
            return page.items, page.total

        async for items in walk_pages(one, self.config.page_size):
            yield items

    def _mark_may_move(self, walk: _Walk, listing: str) -> bool:
        if walk.shrank:
            log.warning("slooh_list_shrank_mark_kept", source=self.name, listing=listing,
                        totals=walk.totals, detail="the next run walks down to the old mark again")
        return not walk.shrank

    async def _pictures(self, api: SloohApi, walk: _Walk, window: tuple[date, date] | None,
                        ) -> AsyncIterator[Found]:
        cfg = self.config
        seen: set[str] = set()
        pages = skipped = 0
        processors = tuple(cfg.processors)
        async for page in self._pages(api.pictures, walk):
            pages += 1
            older = False
            for picture in walk.new_part(page, "imageId"):
                taken = picture_time(picture)
                if window and taken and not window[0] <= taken.date() <= window[1]:
                    older = older or taken.date() < window[0]
                    continue
                item = picture_item(self.name, cfg.layout, picture, processors)
                if item is None:
                    skipped += 1
                elif item.key not in seen:
                    seen.add(item.key)
                    yield self._found(api.http, item)
            yield Checkpoint()  # this page is stored before the next is asked for
            if walk.reached or older:  # newest first: the rest is older still
                break
        if skipped:
            log.warning("slooh_pictures_without_url", source=self.name, skipped=skipped)
        log.info("slooh_pictures_listed", source=self.name, pages=pages, pictures=len(seen))
        if window is None and walk.top and self._mark_may_move(walk, "pictures"):
            yield Checkpoint({PICTURES_MARK: walk.top})

    async def _fits(self, api: SloohApi, walk: _Walk, window: tuple[date, date] | None,
                    ) -> AsyncIterator[Found]:
        cfg = self.config
        incremental = window is None and not walk.full
        # missions whose FITS an unfinished earlier walk already stored: not asked for again
        listed: set[int] = set(self.state.get(MISSIONS_LISTED) or ()) if incremental else set()
        missions = skipped = 0
        seen: set[str] = set()
        async for page in self._pages(api.missions, walk):
            older = False
            for mission in walk.new_part(page, "scheduledMissionId"):
                mission_id = parse_count(mission.get("scheduledMissionId"))
                available = mission.get("fitsIsAvailable")
                if not mission_id or (available is not None and not is_true(available)):
                    continue
                taken = picture_time(mission)
                if window and taken and not window[0] <= taken.date() <= window[1]:
                    older = older or taken.date() < window[0]
                    continue
                if mission_id in listed:
                    skipped += 1
                    continue
                missions += 1
                for group, entry in await api.mission_fits(mission_id):
                    item: NewItem | None = fits_item(self.name, cfg.layout, mission, group, entry)
                    if item is not None and item.key not in seen:
                        seen.add(item.key)
                        yield self._found(api.http, item)
                listed.add(mission_id)
            # the page is stored, then the missions it listed are remembered
            yield Checkpoint({MISSIONS_LISTED: sorted(listed)} if incremental else None)
            if walk.reached or older:
                break
        log.info("slooh_fits_listed", source=self.name, missions=missions, frames=len(seen),
                 already_stored=skipped)
        if window is None and walk.top and self._mark_may_move(walk, "missions"):
            yield Checkpoint({MISSIONS_MARK: walk.top, MISSIONS_LISTED: []})
