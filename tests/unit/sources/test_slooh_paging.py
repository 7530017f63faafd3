"""Slooh paging: every edge, the k·page+1 totals that other clients get wrong included."""

from __future__ import annotations

import pytest

from daemon.sources.slooh.paging import parse_count, walk_pages


def server(n: int, total_as: str = "int"):
    items = [f"img{i}" for i in range(1, n + 1)]
    calls: list[tuple[int, int]] = []

    async def fetch(first: int, size: int):
        calls.append((first, size))
        page = items[first - 1:first - 1 + size]
        total = {"int": n, "str": str(n), "empty": ""}[total_as]
        return page, total

    return items, fetch, calls


@pytest.mark.parametrize("n", [0, 1, 17, 18, 19, 35, 36, 37, 100])
@pytest.mark.parametrize("total_as", ["int", "str", "empty"])
async def test_every_item_once_whatever_the_total(n, total_as):
    items, fetch, calls = server(n, total_as)
    got = [x async for page in walk_pages(fetch, 18) for x in page]
    assert got == items  # the last item of 19 = 18 + 1 is never dropped
    assert calls[0][0] == 1  # 1-based
    if total_as != "empty" and n:
        assert len(calls) == -(-n // 18)  # no extra call once the total is reached


async def test_short_pages_advance_by_what_came_back():
    seen: list[int] = []

    async def fetch(first: int, size: int):
        seen.append(first)
        return ([first] if first <= 5 else []), 5  # a server returning fewer than asked

    got = [x async for page in walk_pages(fetch, 50) for x in page]
    assert got == [1, 2, 3, 4, 5] and seen == [1, 2, 3, 4, 5]


async def test_a_list_that_never_ends_is_an_error():
    async def fetch(first: int, size: int):
        return ["again"], ""

    with pytest.raises(ValueError, match="does not end"):
        async for _ in walk_pages(fetch, 10, max_pages=5):
            pass


def test_counts():
    assert parse_count(19) == 19 and parse_count("19") == 19 and parse_count(" 7 ") == 7
    assert parse_count("") is None and parse_count(None) is None and parse_count("n/a") is None
    assert parse_count(True) is None


async def _resumed_walk(ids: list[int], saved: dict, page_size: int = 5) -> tuple[list[int], list[int]]:
    """Walk ``ids`` (newest first) with a Resume of ``saved``; (ids processed, positions asked)."""
    from daemon.sources.slooh.walk import Resume

    resume = Resume(saved, page_size)
    asked: list[int] = []  # the position of every page asked for, in order

    async def fetch(first: int, size: int):
        asked.append(first)
        return [{"imageId": i} for i in ids[first - 1:first - 1 + size]], len(ids)

    seen: list[int] = []
    async for page in walk_pages(fetch, page_size, reposition=resume.reposition):
        records = resume.look(page, asked[-1])
        if records is not None:
            seen += [r["imageId"] for r in records]
    return seen, asked


async def test_a_resume_jumps_only_when_the_landing_proves_it():
    ids = list(range(100, 60, -1))  # 40 pictures, newest first; an earlier walk stored 100..71
    saved = {"top": [100, 99, 98, 97, 96], "count": 30, "last": 71}
    seen, asked = await _resumed_walk(ids, saved)
    assert asked == [1, 28, 33, 38] and seen == list(range(100, 95, -1)) + list(range(70, 60, -1))

    fewer = [i for i in ids if i not in (90, 89, 88)]  # 3 deleted since: the landing misses 71
    seen, asked = await _resumed_walk(fewer, saved)
    assert asked[:3] == [1, 28, 6] and set(fewer) <= set(seen)  # back to page 2, page by page

    short = ids[:5] + ids[-15:]  # most of the stored ones deleted: the landing is past the end
    seen, asked = await _resumed_walk(short, saved)
    assert asked[:3] == [1, 28, 6] and set(short) <= set(seen)

    seen, asked = await _resumed_walk(ids, {"top": "garbage"})  # unusable state: a plain walk
    assert seen == ids and asked == [1, 6, 11, 16, 21, 26, 31, 36]
