"""The one pipeline: a source's listing → enrich → place (library paths) → enqueue →
checkpoint, and counting items until they settle. Every way work enters the store goes
through it: scheduled runs (:func:`run_window`), ingest and backfill tasks, ``harvestd
backfill``/``import``/``retry`` (:class:`Intake` with a ``range`` listing).

Listings are taken in parts (at each :class:`Checkpoint` a source yields, and in between
parts growing from :data:`FIRST_PART_ITEMS` to the part size), so a walk is never held
whole in memory and the first downloads start after a few items; a
checkpoint's state is saved only once the items before it are stored, on every path.
What is retried depends only on the kind of listing (:class:`Listing`), nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

import structlog

from daemon.aio import wait_any
from daemon.codes import TRANSIENT_CODES, ItemStatus, RunStatus
from daemon.errors import InputError
from daemon.http import HttpClient
from daemon.library.paths import place
from daemon.sources.base import Checkpoint, Found, Source
from daemon.store import NewItem, RunCounts, Store

log = structlog.get_logger("daemon.harvest")
SETTLED_OK = frozenset({ItemStatus.DOWNLOADED, ItemStatus.PROCESSING, ItemStatus.PROCESSED})
PART_ITEMS = 500  # items stored at a time when a listing runs long between checkpoints
FIRST_PART_ITEMS = 8  # the first part of a listing; each next one twice as big, up to the part size
YIELD_EVERY = 200  # items between two yields to the event loop
T = TypeVar("T")


class UnknownSource(InputError):
    """A source name that is not configured; the message lists the known ones."""


def require_source(name: str, configured: Mapping[str, T]) -> T:
    """``configured[name]``.

    Raises:
        UnknownSource: ``unknown source 'x' (known: a, b)``.
    """
    if name not in configured:
        known = ", ".join(sorted(configured)) or "none configured"
        raise UnknownSource(f"unknown source {name!r} (known: {known})")
    return configured[name]


class Listing(StrEnum):
    """What a listing covers, which decides what earlier failures in it are tried again.

    ``window``: the newest items (scheduled runs, ingest tasks): every earlier failure is
    tried again (a 404 may be a late upload). ``range``: a past range (backfills, imports,
    backfill tasks, retries): transient failures are tried again, a 404 stays settled.
    """

    WINDOW = "window"
    RANGE = "range"

    @property
    def retry_codes(self) -> Sequence[str] | None:
        """Error codes requeued when met again (None: all)."""
        return None if self is Listing.WINDOW else TRANSIENT_CODES


@dataclass
class Plan:
    """How the keys of a batch of item specs stand before work starts."""

    keys: list[str] = field(default_factory=list)
    duplicates: set[str] = field(default_factory=set)  # already stored (or known missing)
    pending: set[str] = field(default_factory=set)  # to download and/or process now

    def merge(self, part: Plan) -> None:
        """Add ``part``'s keys to this plan."""
        self.keys += part.keys
        self.pending |= part.pending
        self.duplicates |= part.duplicates


async def enqueue(store: Store, source: str, specs: Sequence[NewItem],
                  retry_codes: Sequence[str] | None, run_id: int | None = None) -> tuple[Plan, int]:
    """Store ``specs`` and requeue earlier failures whose error code is in ``retry_codes``.

    ``retry_codes`` None requeues every failure. With ``run_id``, the pending items (new,
    requeued, or left by an interrupted run) are recorded as that run's. Returns the plan and
    how many keys were newly inserted.
    """
    plan = Plan(keys=[s.key for s in specs])
    before = await store.item_states(source, plan.keys)
    inserted = await store.add_items(source, specs)
    retry = [k for k, (status, code) in before.items()
             if status == ItemStatus.FAILED and (retry_codes is None or code in retry_codes)]
    if retry:
        await store.requeue_failed(source, retry, retry_codes)
    retry_set = set(retry)
    for key in plan.keys:
        state = before.get(key)
        if key in inserted or key in retry_set or state is None:
            plan.pending.add(key)
        elif state[0] in SETTLED_OK or state[0] == ItemStatus.FAILED:
            plan.duplicates.add(key)
        else:  # discovered / downloading from an earlier, interrupted run
            plan.pending.add(key)
    if run_id is not None and plan.pending:
        await store.assign_run(source, sorted(plan.pending), run_id)
    return plan, len(inserted)


async def enrich_new(store: Store, source: Source, specs: Sequence[NewItem],
                     http: HttpClient) -> list[NewItem]:
    """``specs`` with the ones not stored yet completed by :meth:`Source.enrich` (which may
    add companion items, e.g. a photo's camera-metadata file)."""
    known = await store.item_states(source.name, [s.key for s in specs])
    new = [s for s in specs if s.key not in known]
    if not new:
        return list(specs)
    new_keys = {s.key for s in new}
    return [s for s in specs if s.key not in new_keys] + await source.enrich(new, http)


async def add_known_companions(store: Store, source: Source, plan: Plan, run_id: int | None) -> None:
    """Put the stored companions of the plan's items (not enriched again: already known) into
    ``plan`` as the first run had them: settled ones as duplicates, transient failures
    requeued, the rest pending. So a backfill's total for a range is the same on every run."""
    listed = set(plan.keys)
    wanted = [c for key in plan.keys for c in source.companion_keys(key) if c not in listed]
    if not wanted:
        return
    states = await store.item_states(source.name, wanted)
    retry = [k for k, (status, code) in states.items()
             if status == ItemStatus.FAILED and code in TRANSIENT_CODES]
    if retry:
        await store.requeue_failed(source.name, retry, TRANSIENT_CODES)
    pending: list[str] = []
    for key in wanted:
        if key not in states:
            continue
        plan.keys.append(key)
        status = states[key][0]
        if key in retry or (status not in SETTLED_OK and status != ItemStatus.FAILED):
            plan.pending.add(key)
            pending.append(key)
        else:
            plan.duplicates.add(key)
    if run_id is not None and pending:
        await store.assign_run(source.name, pending, run_id)


async def listing_of(specs: Iterable[NewItem]) -> AsyncIterator[Found]:
    """Items already in hand (an import file, a retry) as a listing; yields to the loop
    every :data:`YIELD_EVERY` items."""
    for n, spec in enumerate(specs, 1):
        yield spec
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)


@dataclass
class Intake:
    """Takes a listing into the store, part by part, for one run (``run_id``) of ``source``.

    Each part: new items enriched (:meth:`Source.enrich`), stored, earlier failures requeued
    as ``listing`` says, and — for a ``range`` — the stored companions of its items counted
    (:func:`add_known_companions`). ``counts.total`` and ``counts.duplicates``, ``inserted``
    and ``requeued`` add up over the parts; ``counts.new`` is the caller's (a window run
    counts what it inserted, a backfill what it saw processed).
    """

    store: Store
    source: Source
    http: HttpClient
    listing: Listing
    run_id: int | None = None
    counts: RunCounts = field(default_factory=RunCounts)
    inserted: int = 0  # keys stored for the first time
    requeued: int = 0  # earlier failures (or an interrupted run's items) put back to work

    async def add(self, specs: Sequence[NewItem]) -> Plan:
        """Store one part; returns its plan (companions included)."""
        name = self.source.name
        specs = [place(s, name) for s in await enrich_new(self.store, self.source, specs, self.http)]
        plan, inserted = await enqueue(self.store, self.source.name, specs, self.listing.retry_codes,
                                       self.run_id)
        if self.listing is Listing.RANGE:
            await add_known_companions(self.store, self.source, plan, self.run_id)
        self.counts.total += len(plan.keys)
        self.counts.duplicates += len(plan.duplicates)
        self.inserted += inserted
        self.requeued += len(plan.pending) - inserted
        return plan

    async def take(self, found: AsyncIterator[Found], part_items: int = PART_ITEMS,
                   on_part: Callable[[Plan], Awaitable[bool]] | None = None) -> bool:
        """Store everything ``found`` yields, saving each checkpoint's state after the items
        before it; ``on_part`` sees each stored part and returns False to stop early.

        Returns True when the listing was taken to its end.
        """
        batch: list[NewItem] = []
        # parts grow from FIRST_PART_ITEMS to ``part_items``: the first downloads start after
        # a few pages, later parts amortise the store's round trips
        size = min(FIRST_PART_ITEMS, part_items)

        async def flush() -> bool:
            nonlocal batch, size
            if not batch:
                return True
            part, batch = batch, []
            size = min(2 * size, part_items)
            plan = await self.add(part)
            return await on_part(plan) if on_part is not None else True

        try:
            async for one in found:
                if isinstance(one, Checkpoint):
                    if not await flush():
                        return False
                    if one.state:
                        await self.store.save_source_state(self.source.name, one.state)
                    continue
                batch.append(one)
                if len(batch) >= size:
                    if not await flush():
                        return False
                elif len(batch) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            return await flush()
        finally:  # a walk left early closes its session (async generators)
            close = getattr(found, "aclose", None)
            if close is not None:
                await close()


async def run_window(store: Store, source: Source, now: datetime, trigger: str, http: HttpClient,
                     on_enqueued: Callable[[], None] | None = None) -> RunCounts:
    """One run of ``source``'s discovery at ``now`` (UTC) — scheduled, or an ingest task —
    recorded in ``runs``: its window is stored part by part (``on_enqueued`` after each part
    with work), earlier failures requeued. A run that fails or is interrupted keeps what it
    stored and never saves a mark past it.
    """
    run_id = await store.start_run(source.name, trigger)
    intake = Intake(store, source, http, Listing.WINDOW, run_id)
    counts = intake.counts

    async def enqueued(plan: Plan) -> bool:
        if on_enqueued is not None and plan.pending:
            on_enqueued()
        return True

    try:
        source.resume(await store.source_state(source.name))
        await intake.take(source.discover(now, http), on_part=enqueued)
    except BaseException as exc:
        status = RunStatus.INTERRUPTED if isinstance(exc, asyncio.CancelledError | TimeoutError) \
            else RunStatus.FAILED
        counts.new = intake.inserted  # a window run does not wait: new = stored for the first time
        await asyncio.shield(store.finish_run(run_id, counts, status, f"{type(exc).__name__}: {exc}"))
        raise
    counts.new = intake.inserted
    await store.finish_run(run_id, counts, RunStatus.OK)
    log.info("harvest_enqueued", source=source.name, trigger=trigger, total=counts.total,
             new=counts.new, requeued=intake.requeued, duplicates=counts.duplicates)
    return counts


def settled_counts(states: Mapping[str, tuple[str, str | None]]) -> tuple[int, int]:
    """(processed, failed) among item ``states`` (key → (status, error code))."""
    done = sum(1 for status, _ in states.values() if status == ItemStatus.PROCESSED)
    failed = sum(1 for status, _ in states.values() if status == ItemStatus.FAILED)
    return done, failed


def settle(plan: Plan, states: Mapping[str, tuple[str, str | None]], counts: RunCounts) -> bool:
    """Move settled keys of ``plan.pending`` into ``counts`` (processed → new, failed →
    failed); True when nothing is pending."""
    for key in list(plan.pending):
        status, _code = states.get(key, (ItemStatus.DISCOVERED, None))
        if status == ItemStatus.PROCESSED:
            counts.new += 1
        elif status == ItemStatus.FAILED:
            counts.failed += 1
        else:
            continue
        plan.pending.discard(key)
    return not plan.pending


States = Mapping[str, tuple[str, str | None]]


async def follow_until_settled(store: Store, source: str, plan: Plan, counts: RunCounts,
                               keep_waiting: Callable[[], bool], poll_s: float, wake: asyncio.Event,
                               on_states: Callable[[States], None] | None = None) -> bool:
    """Poll the states of ``plan.pending`` and :func:`settle` them into ``counts`` until none
    is pending (True) or ``keep_waiting()`` turns False (False). Polls every ``poll_s``
    seconds, or at once when ``wake`` is set; ``on_states`` sees each poll."""
    while True:
        states = await store.item_states(source, sorted(plan.pending))
        finished = settle(plan, states, counts)
        if on_states is not None:
            on_states(states)
        if finished:
            return True
        if not keep_waiting():
            return False
        await wait_any([wake], poll_s)
