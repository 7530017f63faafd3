"""The toy source: yields facts (a layout and its fields), never paths or downloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from daemon.http import HttpClient
from daemon.sources.base import Source, require_range
from daemon.store.models import NewItem
from tests.integration.toy_kind.config import ToySourceConfig


class ToySource(Source):
    """Numbered files on a static host."""

    kind = "toy"
    config: ToySourceConfig

    def _item(self, n: int) -> NewItem:
        filename = f"toy-{n}.bin"
        return NewItem(key=str(n), url=f"{self.config.base_url}/files/{filename}",
                       captured_at=datetime(2025, 1, 1, tzinfo=UTC),
                       layout=self.config.layout, fields={"filename": filename})  # the library places it

    async def discover(self, now: datetime, http: HttpClient) -> AsyncIterator[NewItem]:
        """Every file."""
        for n in range(self.config.count):
            yield self._item(n)

    async def backfill(self, since: str | None, until: str | None, http: HttpClient) -> AsyncIterator[NewItem]:
        """Files ``since``…``until`` (numbers)."""
        low, high = require_range(self.kind, since, until)
        for n in range(int(low), int(high) + 1):
            yield self._item(n)
