"""Source ``skycam``: a sky camera that publishes one JPEG per fixed minute of each hour.

The URL of a slot comes from ``url_template`` (see :func:`render_url`). Slot times are
wall-clock times of the camera's ``timezone`` (the clock of its file names); item keys are
that wall-clock time (``2025-01-01T00:02``) and ``captured_at`` is stored in UTC. A
scheduled run yields every valid slot of the look-back window, so a late upload or a short
outage is caught up by the next run; a backfill walks a past range in hourly steps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from daemon.errors import SourceError
from daemon.http import HttpClient, NotFound
from daemon.library.paths import sanitize_component
from daemon.sources.base import Source, require_range
from daemon.sources.skycam.config import SkycamSourceConfig
from daemon.sources.skycam.slots import KEY_FORMAT, parse_bound, render_url, slots_between
from daemon.store.models import NewItem

PROBE_SLOTS = 6  # check-source looks this many slots back for an image


class SkycamSource(Source):
    """A sky camera (the observatory flow of the seed: one image per slot, octas per image)."""

    kind = "skycam"
    config: SkycamSourceConfig

    def __init__(self, name: str, config: SkycamSourceConfig) -> None:
        super().__init__(name, config)
        self.zone = ZoneInfo(config.timezone)

    def item_for(self, slot: datetime, current_year: int) -> NewItem:
        """The item spec of one slot (aware datetime in the camera's zone)."""
        cfg = self.config
        url = render_url(cfg.url_template, slot, current_year)
        remote_name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        filename = sanitize_component(remote_name, fallback=slot.strftime("%Y%m%d%H%M") + ".jpg")
        wall = slot.replace(tzinfo=None)
        return NewItem(
            key=wall.strftime(KEY_FORMAT),
            url=url,
            captured_at=slot.astimezone(UTC),
            layout=cfg.layout,
            fields={"t": wall, "filename": filename},
            processors=tuple(cfg.processors),
            metadata={"latitude": cfg.latitude, "longitude": cfg.longitude,
                      "timezone": cfg.timezone},
        )

    async def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[NewItem]:
        """Every valid slot of the last ``lookback_s`` seconds before ``now``."""
        local_now = now.astimezone(self.zone)
        since = local_now - timedelta(seconds=self.config.lookback_s)
        for slot in slots_between(since, local_now, self.config.minutes):
            yield self.item_for(slot, local_now.year)

    async def probe(self, http: HttpClient) -> str:
        """Fetch the newest image of the look-back window (the camera has no listing; up to
        six slots back, for gaps). Raises HttpError when none answers."""
        now = datetime.now(self.zone)
        since = now - timedelta(seconds=self.config.lookback_s)
        slots = list(slots_between(since, now, self.config.minutes))[::-1][:PROBE_SLOTS]
        missing: list[str] = []
        for slot in slots:
            item = self.item_for(slot, now.year)
            try:
                body = await http.get_bytes(item.url)
            except NotFound:
                missing.append(item.key)
                continue
            gap = f" ({len(missing)} newer slot(s) missing)" if missing else ""
            return f"newest image {item.key} (camera time), {len(body):,} bytes{gap}"
        if not slots:
            raise SourceError("no slot in the look-back window")
        raise SourceError(f"no image in the last {len(slots)} slots (HTTP 404 for each, "
                          f"newest {slots[0]:%Y-%m-%dT%H:%M} camera time)")

    async def backfill(self, since: str | None, until: str | None, http: HttpClient) -> AsyncIterator[NewItem]:
        """Every valid slot of ``[since, until]`` read in the camera's time zone."""
        since, until = require_range(self.kind, since, until)
        start, end = parse_bound(since, self.zone), parse_bound(until, self.zone)
        if end < start:
            raise ValueError(f"--until {until} is before --since {since}")
        current_year = datetime.now(self.zone).year
        for slot in slots_between(start, end, self.config.minutes):
            yield self.item_for(slot, current_year)
