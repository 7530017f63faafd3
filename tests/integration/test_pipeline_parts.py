"""The pipeline takes a listing in growing parts (the first downloads start after a few
items; later parts amortise the store's round trips), checkpoints cut parts, and a checkpoint's
state is saved only after the items before it are stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

from daemon.config.root import Config
from daemon.http import HttpClient
from daemon.pipeline import FIRST_PART_ITEMS, Intake, Listing, Plan
from daemon.sources.base import Checkpoint, Found
from daemon.store import SqliteStore
from tests.integration.toy_kind.config import ToySourceConfig
from tests.integration.toy_kind.source import ToySource


async def test_parts_grow_and_checkpoints_cut_them(tmp_path) -> None:
    source = ToySource("toys", ToySourceConfig(kind="toy", base_url="http://127.0.0.1:1"))
    saved_at: list[int] = []

    async def listing() -> AsyncIterator[Found]:
        for n in range(60):
            yield source._item(n)
            if n == 29:
                yield Checkpoint({"mark": n})

    parts: list[int] = []
    async with SqliteStore.open(tmp_path / "h.db") as store, HttpClient(Config().http) as http:
        async def on_part(plan: Plan) -> bool:
            parts.append(len(plan.keys))
            saved_at.append(len(await store.source_state("toys")))
            return True

        intake = Intake(store, source, http, Listing.RANGE)
        assert await intake.take(listing(), part_items=16, on_part=on_part)
        assert await store.source_state("toys") == {"mark": 29}
        stored = await store.item_states("toys", [str(n) for n in range(60)])
    assert FIRST_PART_ITEMS == 8
    assert parts == [8, 16, 6, 16, 14]  # 8, doubling up to 16; the checkpoint after item 29 cuts a part
    assert saved_at == [0, 0, 0, 1, 1]  # the mark is saved after the part before it, never earlier
    assert len(stored) == 60 and intake.counts.total == 60
