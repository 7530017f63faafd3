"""Turning a source's item specs into queued work, with run bookkeeping.

A scheduled run (:func:`harvest_window`) stores every slot of the look-back window that is
not stored yet, and puts back in the queue the window's items that failed earlier (a late
upload or a short outage is caught up by the next run, never fetched twice).
A backfill (:func:`plan_backfill`) stores a past range; items that failed for a transient
reason are retried, while ones the server answered 404 for are settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from daemon.codes import TRANSIENT_CODES
from daemon.http import HttpClient
from daemon.sources.base import Checkpoint, Found, Source
from daemon.store import NewItem, RunCounts, Store

log = structlog.get_logger("daemon.harvest")
SETTLED_OK = frozenset({"downloaded", "processing", "processed"})


@dataclass
class Plan:
    """How the keys of a batch of item specs stand before work starts."""

    keys: list[str] = field(default_factory=list)
    duplicates: set[str] = field(default_factory=set)  # already stored (or known missing)
    pending: set[str] = field(default_factory=set)  # to download and/or process now


YIELD_EVERY = 200  # items between two yields to the event loop


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
    retry = [
        k for k, (status, code) in before.items()
        if status == "failed" and (retry_codes is None or code in retry_codes)
    ]
    if retry:
        await store.requeue_failed(source, retry, retry_codes)
    retry_set = set(retry)
    for key in plan.keys:
        state = before.get(key)
        if key in inserted or key in retry_set or state is None:
            plan.pending.add(key)
        elif state[0] in SETTLED_OK or state[0] == "failed":
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


async def only_items(found: AsyncIterator[Found]) -> list[NewItem]:
    """The items of a discovery, its checkpoints dropped (callers that store all at once).

    Yields to the event loop every :data:`YIELD_EVERY` items: a source that computes its
    items without awaiting (a year of camera slots) never stalls the loop.
    """
    items: list[NewItem] = []
    async for found_one in found:
        if isinstance(found_one, NewItem):
            items.append(found_one)
            if len(items) % YIELD_EVERY == 0:
                await asyncio.sleep(0)
    return items


async def harvest_window(store: Store, source: Source, now: datetime, trigger: str,
                         http: HttpClient, on_enqueued: Callable[[], None] | None = None) -> RunCounts:
    """One scheduled run of ``source`` at ``now`` (UTC): enqueue its window, record a run.

    Items are stored at each :class:`Checkpoint` the source yields (and at the end); the
    checkpoint's state is saved only after that, so a run that fails or is interrupted keeps
    what it stored and never saves a mark past it. ``on_enqueued`` is called after each store.
    """
    run_id = await store.start_run(source.name, trigger)
    counts = RunCounts()
    requeued = 0
    batch: list[NewItem] = []

    async def flush() -> None:
        nonlocal batch, requeued
        if not batch:
            return
        specs = await enrich_new(store, source, batch, http)
        batch = []
        plan, inserted = await enqueue(store, source.name, specs, retry_codes=None, run_id=run_id)
        counts.total += len(specs)
        counts.new += inserted
        counts.duplicates += len(plan.duplicates)
        requeued += len(plan.pending) - inserted
        if on_enqueued is not None and plan.pending:
            on_enqueued()

    try:
        source.resume(await store.source_state(source.name))
        async for found in source.discover(now, http):
            if isinstance(found, Checkpoint):
                await flush()
                if found.state:
                    await store.save_source_state(source.name, found.state)
            else:
                batch.append(found)
        await flush()
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, asyncio.CancelledError | TimeoutError) else "failed"
        await asyncio.shield(store.finish_run(run_id, counts, status, f"{type(exc).__name__}: {exc}"))
        raise
    await store.finish_run(run_id, counts, "ok")
    log.info("harvest_enqueued", source=source.name, trigger=trigger, total=counts.total,
             new=counts.new, requeued=requeued, duplicates=counts.duplicates)
    return counts


async def plan_backfill(store: Store, source: Source, specs: Sequence[NewItem],
                        http: HttpClient, run_id: int | None = None) -> Plan:
    """Enqueue one chunk of a backfill (of run ``run_id``): new items enriched, transient
    failures retried, 404s settled."""
    specs = await enrich_new(store, source, specs, http)
    plan, _ = await enqueue(store, source.name, specs, retry_codes=TRANSIENT_CODES, run_id=run_id)
    await add_known_companions(store, source, plan, run_id)
    return plan


async def add_known_companions(store: Store, source: Source, plan: Plan, run_id: int | None) -> None:
    """Put the stored companions of the plan's items (not enriched again: already known) into
    ``plan`` as the first run had them: settled ones as duplicates, transient failures
    requeued, the rest pending. So a backfill's total for a range is the same on every run."""
    listed = set(plan.keys)
    wanted = [c for key in plan.keys for c in source.companion_keys(key) if c not in listed]
    if not wanted:
        return
    states = await store.item_states(source.name, wanted)
    retry = [k for k, (status, code) in states.items() if status == "failed" and code in TRANSIENT_CODES]
    if retry:
        await store.requeue_failed(source.name, retry, TRANSIENT_CODES)
    pending: list[str] = []
    for key in wanted:
        if key not in states:
            continue
        plan.keys.append(key)
        status = states[key][0]
        if key in retry or (status not in SETTLED_OK and status != "failed"):
            plan.pending.add(key)
            pending.append(key)
        else:
            plan.duplicates.add(key)
    if run_id is not None and pending:
        await store.assign_run(source.name, pending, run_id)


def settle(plan: Plan, states: dict[str, tuple[str, str | None]], counts: RunCounts) -> bool:
    """Move settled keys of ``plan.pending`` into ``counts``; True when nothing is pending."""
    for key in list(plan.pending):
        status, _code = states.get(key, ("discovered", None))
        if status == "processed":
            counts.new += 1
        elif status == "failed":
            counts.failed += 1
        else:
            continue
        plan.pending.discard(key)
    return not plan.pending
