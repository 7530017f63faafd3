"""Slooh's 1-based list paging (``shared/reference/slooh.md`` §5), without its off-by-one.

Each call sends ``first`` (1-based) and ``max``; the answer carries a page of items and a
total that may be an int, a numeric string or ``""``. The walk advances ``first`` by the
number of items actually returned and stops after the page that reaches the total (``first
> total``) or at an empty page; a client that stops when ``first < total`` fails after the
increment drops the last item whenever total = k·page + 1, which this walk never does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Fetch = Callable[[int, int], Awaitable[tuple[list[T], Any]]]


def parse_count(value: Any) -> int | None:
    """``19``, ``"19"``, ``" 19 "`` → 19; ``""``, None, garbage → None (unknown)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


async def walk_pages(fetch: Fetch[T], page_size: int, max_pages: int = 100_000,
                     reposition: Callable[[int, bool], int | None] | None = None) -> AsyncIterator[list[T]]:
    """Yield each non-empty page of ``fetch(first, max)``; see the module docstring.

    ``reposition(next_first, ended)``, when given, is asked after each page (an empty one
    included) where to go on: None follows the rule above (stop when ``ended``), a position
    continues from there (a caller may skip a range it knows is stored, or go back).

    Raises:
        ValueError: a non-positive page size, or more than ``max_pages`` pages (a server
            that never ends its list).
    """
    if page_size < 1:
        raise ValueError("page size must be at least 1")
    first = 1
    for _ in range(max_pages):
        items, total = await fetch(first, page_size)
        if items:
            yield items
            first += len(items)
            count = parse_count(total)
            ended = count is not None and first > count
        else:
            ended = True
        moved = reposition(first, ended) if reposition is not None else None
        if moved is not None:
            first = max(1, moved)
        elif ended:
            return
    raise ValueError(f"more than {max_pages} pages: the list does not end")
