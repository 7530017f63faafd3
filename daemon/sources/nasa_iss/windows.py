"""Date windows of API queries that follow the data (issue 13).

A backfill over decades used to cost one API call per ``window_days`` window, empty or not
(2000–2030 for one mission: 366 calls, strictly one after the other). Here a window grows
while the answers are empty (×2 each time, up to ``max_window_days``) and shrinks when an
answer is large (to about ``max_rows_per_query`` rows by the density just seen, never below
``window_days``), so an empty decade costs a handful of calls and no single answer grows
without bound where photos are dense. The first window is ``window_days`` long: a scheduled
run (a short look-back) stays one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass
class AdaptiveWindows:
    """``[start, end]`` (inclusive GMT dates) cut into windows one answer at a time.

    ``next()`` gives the next window (None when the range is covered); ``answered(rows)``
    reports how many rows the last one returned, which sizes the window after it.
    """

    start: date
    end: date
    min_days: int
    max_days: int
    max_rows: int
    days: int = field(init=False)
    _cursor: date = field(init=False)
    calls: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.min_days < 1 or self.max_days < self.min_days or self.max_rows < 1:
            raise ValueError("window sizes must satisfy 1 ≤ min_days ≤ max_days and max_rows ≥ 1")
        self.days = self.min_days
        self._cursor = self.start

    def next(self) -> tuple[date, date] | None:
        """The next window, or None once ``end`` is covered."""
        if self._cursor > self.end:
            return None
        last = min(self.end, self._cursor + timedelta(days=self.days - 1))
        window = (self._cursor, last)
        self._cursor = last + timedelta(days=1)
        self.calls += 1
        return window

    def answered(self, rows: int) -> None:
        """Size the next window from the last answer: empty → twice as long; more than
        ``max_rows`` rows → as long as ``max_rows`` rows took at that density; a quarter of
        ``max_rows`` or fewer → twice as long; otherwise the same."""
        if rows > self.max_rows:
            self.days = max(self.min_days, int(self.days * self.max_rows / rows))
        elif rows * 4 <= self.max_rows:
            self.days = min(self.max_days, self.days * 2)
