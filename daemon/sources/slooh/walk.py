"""Walking a newest-first Slooh list across runs: marks, shrinking lists, verified resumes.

A :class:`Walk` is one run's pass down a list (photo roll or missions): it stops inside the
page holding the *mark* (ids of the top page of the last walk that completed), remembers its
own top page, and notices when the list's total shrinks (a deletion shifts later items up a
position, so one may be stepped over: the mark must then not move).

A :class:`Resume` lets a run skip, once, the part of the photo roll an unfinished earlier
walk already stored. That walk saved after each stored page ``{"top": ids of its first page,
"count": positions it covered, "last": id of its last stored item}``. New pictures only ever
arrive at the top, so when this run meets one of the saved top ids at position P (saved
position q), the saved last item should now sit at P + (count − q). The walk jumps to half a
page before that and *verifies* the landing page holds the saved last id; only then are the
items after it taken as the unseen rest. A landing without it (deletions moved things more
than half a page, or the list ended) goes back to where the walk was and carries on page by
page: a resume may cost pages, never a hole.
"""

from __future__ import annotations

from typing import Any

from daemon.sources.slooh.paging import parse_count


def record_ids(page: list[dict[str, Any]], id_key: str) -> list[int | None]:
    """The ids of a page's records (None where a record has none)."""
    return [parse_count(r.get(id_key)) for r in page]


class Walk:
    """One run's pass down a newest-first list (see the module docstring)."""

    def __init__(self, mark: list[int] | None, full: bool) -> None:
        self.mark = set(mark or ())
        self.full = full
        self.top: list[int] | None = None
        self.reached = False
        self.totals: list[int] = []  # the list's total as each page reported it
        self.page_first = 1  # 1-based position of the page being handled

    def note_page(self, first: int, total: int | None) -> None:
        """A page was fetched at ``first``; the list reported ``total``."""
        self.page_first = first
        if total is not None:
            self.totals.append(total)

    @property
    def shrank(self) -> bool:
        """The list lost items during the walk: the mark must not move past them."""
        return any(later < earlier for earlier, later in zip(self.totals, self.totals[1:], strict=False))

    def new_part(self, page: list[dict[str, Any]], id_key: str) -> list[dict[str, Any]]:
        """The records of ``page`` above the mark (all of them when walking in full); notes
        the first page's ids as the new top and whether the mark was reached."""
        ids = record_ids(page, id_key)
        if self.top is None:
            self.top = [i for i in ids if i]
        if self.full:
            return page
        for n, record_id in enumerate(ids):
            if record_id in self.mark:  # newest first: what follows was covered by the last walk
                self.reached = True
                return page[:n]
        return page


class Resume:
    """One verified skip over what an unfinished walk stored (see the module docstring)."""

    def __init__(self, saved: Any, page_size: int) -> None:
        ok = (isinstance(saved, dict) and isinstance(saved.get("top"), list)
              and isinstance(saved.get("count"), int) and isinstance(saved.get("last"), int))
        self.top: list[int] = saved["top"] if ok else []
        self.count: int = saved["count"] if ok else 0
        self.last: int = saved["last"] if ok else 0
        self.margin = max(1, page_size // 2)
        self.done = not ok
        self._target: int | None = None  # where to jump after this page
        self._back: int | None = None  # where to go back if the landing is wrong
        self._landing = False  # the next page is the landing
        self.skipped = 0  # positions skipped by a verified jump

    def look(self, page: list[dict[str, Any]], first: int) -> list[dict[str, Any]] | None:
        """Handle a page fetched at ``first``: the records to process, or None to ignore it
        (a landing that failed verification: the walk goes back)."""
        ids = record_ids(page, "imageId")
        if self._landing:
            self._landing = False
            self.done = True
            if self.last in ids:
                at = ids.index(self.last)
                self.skipped = first + at - (self._back or first)
                self._back = None
                return page[at + 1:]
            return None
        if not self.done:
            for index, record_id in enumerate(ids):
                if record_id in self.top:
                    self.done = True
                    expected = first + index + (self.count - (self.top.index(record_id) + 1))
                    target = expected - self.margin
                    after = first + len(page)
                    if target > after:
                        self._target, self._back = target, after
                    break
        return page

    def reposition(self, next_first: int, ended: bool) -> int | None:
        """For :func:`walk_pages`: jump once, or go back after a wrong (or empty) landing;
        None to walk on as usual."""
        if self._target is not None:  # planned on the page just handled
            target, self._target = self._target, None
            self._landing = True
            return target
        if self._back is None:
            return None
        self._landing, self.done = False, True  # an empty landing never reached look()
        back, self._back = self._back, None  # back to where the walk was, page by page
        return back
