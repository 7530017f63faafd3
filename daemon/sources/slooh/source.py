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
the next run walks down to the old mark again and leaves no hole. While a walk is unfinished,
how far it got is saved after each stored page: a resumed photo-roll walk skips what was
stored with one verified jump (:class:`~daemon.sources.slooh.walk.Resume`), and a resumed
missions walk does not ask again for the FITS lists it stored (one call per mission). New
pictures arriving mid-walk shift positions down; items are de-duplicated by key, so nothing
is skipped; a list that shrinks mid-walk keeps the mark (see :class:`Walk`).
``harvestd backfill`` walks everything (optionally only a date window) and moves no mark.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import structlog

from daemon.config.settings import HostLimit
from daemon.errors import SourceError
from daemon.http import HttpClient
from daemon.sources.base import Checkpoint, Found, Source
from daemon.sources.slooh.api import Page, SloohApi, is_true
from daemon.sources.slooh.config import SloohSourceConfig
from daemon.sources.slooh.dates import picture_time
from daemon.sources.slooh.paging import parse_count, walk_pages
from daemon.sources.slooh.records import fits_item, picture_item
from daemon.sources.slooh.walk import Resume, Walk, record_ids
from daemon.store.models import NewItem

log = structlog.get_logger("daemon.sources.slooh")
FILE_HOSTS = ("https://polaris.slooh.com/", "https://polaris2.slooh.com/")  # FITS, PNG (§8)
PICTURES_MARK = "pictures_mark"
PICTURES_WALK = "pictures_walk"  # of an unfinished walk: how far it got (walk.Resume)
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

    async def mission(self, mission_id: int, http: HttpClient) -> AsyncIterator[Found]:
        """One mission's pictures (``getMyPictures`` with ``viewType`` "missions" and its id,
        reference §4.5) and FITS frames (``getMissionFITS``), as the seed's ``--mission``.
        The FITS frames take the mission's title and telescope from its first picture.

        Raises:
            SourceError: the account has no picture and no FITS frame of that mission.
        """
        cfg = self.config
        api = self._api(http)
        first: dict[str, Any] | None = None
        seen: set[str] = set()

        async def fetch(start: int, count: int) -> Page:
            return await api.pictures(start, count, mission_id)

        async for page in self._pages(fetch, Walk(None, True)):
            for picture in page:
                first = first or picture
                item = picture_item(self.name, cfg.layout, picture, tuple(cfg.processors), cfg.unknown_object)
                if "png" in cfg.formats and item is not None and item.key not in seen:
                    seen.add(item.key)
                    yield self._found(http, item)
        frames = await api.mission_fits(mission_id) if "fits" in cfg.formats else []
        record = first or {"scheduledMissionId": mission_id}
        for group, entry in frames:
            fits = fits_item(self.name, cfg.layout, record, group, entry, cfg.unknown_object)
            if fits is not None and fits.key not in seen:
                seen.add(fits.key)
                yield self._found(http, fits)
        if first is None and not frames:
            raise SourceError(f"mission {mission_id} has no pictures or FITS frames in this account")
        log.info("slooh_mission_listed", source=self.name, mission_id=mission_id, items=len(seen))

    async def _walk(self, http: HttpClient, full: bool, window: tuple[date, date] | None,
                    ) -> AsyncIterator[Found]:
        api = self._api(http)
        # the first call logs in (so an empty first page right after it is not taken for an expiry)
        if "png" in self.config.formats:
            async for found in self._pictures(api, Walk(self.state.get(PICTURES_MARK), full), window):
                yield found
        if "fits" in self.config.formats:
            async for found in self._fits(api, Walk(self.state.get(MISSIONS_MARK), full), window):
                yield found

    async def _pages(self, fetch: Callable[[int, int], Awaitable[Page]], walk: Walk,
                     resume: Resume | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        async def one(first: int, count: int) -> tuple[list[dict[str, Any]], Any]:
            page = await fetch(first, count)
            walk.note_page(first, page.total)
            return page.items, page.total

        reposition = resume.reposition if resume is not None else None
        async for items in walk_pages(one, self.config.page_size, reposition=reposition):
            yield items

    def _mark_may_move(self, walk: Walk, listing: str) -> bool:
        if walk.shrank:
            log.warning("slooh_list_shrank_mark_kept", source=self.name, listing=listing,
                        totals=walk.totals, detail="the next run walks down to the old mark again")
        return not walk.shrank

    async def _pictures(self, api: SloohApi, walk: Walk, window: tuple[date, date] | None,
                        ) -> AsyncIterator[Found]:
        cfg = self.config
        incremental = window is None and not walk.full
        resume = Resume(self.state.get(PICTURES_WALK) if incremental else None, cfg.page_size)
        seen: set[str] = set()
        pages = skipped = 0
        processors = tuple(cfg.processors)
        async for page in self._pages(api.pictures, walk, resume):
            records = resume.look(page, walk.page_first)
            if records is None:  # a resume landing that failed verification: back, page by page
                continue
            pages += 1
            older = False
            for picture in walk.new_part(records, "imageId"):
                taken = picture_time(picture)
                if window and taken and not window[0] <= taken.date() <= window[1]:
                    older = older or taken.date() < window[0]
                    continue
                item = picture_item(self.name, cfg.layout, picture, processors, cfg.unknown_object)
                if item is None:
                    skipped += 1
                elif item.key not in seen:
                    seen.add(item.key)
                    yield self._found(api.http, item)
            # this page is stored before the next is asked for; then, while the walk is unfinished,
            # how far it got (so an interrupted walk can be resumed: see walk.Resume)
            yield Checkpoint({PICTURES_WALK: self._progress(walk, page)} if incremental else None)
            if walk.reached or older:  # newest first: the rest is older still
                break
        if skipped:
            log.warning("slooh_pictures_without_url", source=self.name, skipped=skipped)
        log.info("slooh_pictures_listed", source=self.name, pages=pages, pictures=len(seen),
                 resumed_over=resume.skipped)
        if window is None and walk.top and self._mark_may_move(walk, "pictures"):
            yield Checkpoint({PICTURES_MARK: walk.top, PICTURES_WALK: None})

    @staticmethod
    def _progress(walk: Walk, page: list[dict[str, Any]]) -> dict[str, Any] | None:
        """How far an unfinished photo-roll walk got (None once the list shrank: no resume)."""
        ids = [i for i in record_ids(page, "imageId") if i]
        if walk.shrank or not ids or not walk.top:
            return None
        return {"top": walk.top, "count": walk.page_first + len(page) - 1, "last": ids[-1]}

    async def _fits(self, api: SloohApi, walk: Walk, window: tuple[date, date] | None,
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
                    item: NewItem | None = fits_item(self.name, cfg.layout, mission, group, entry,
                                                     cfg.unknown_object)
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
