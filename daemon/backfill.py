"""``harvestd backfill SOURCE --since … --until …``: rebuild the history of a past range.

The range is enqueued in chunks; this process runs its own downloader and worker limited
to the source (a running daemon on the same database may take part of the work: leases
keep every item to one process), and waits until every item of the chunk is processed or
failed. Counts: ``new`` = downloaded and processed by this run, ``duplicates`` = already
stored before it (or known missing: a 404 earlier), ``failed`` = missing (404) or failed
after retries in this run. Idempotent; a re-run after Ctrl-C completes the range.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import structlog

from daemon.codes import ItemStatus, RunStatus
from daemon.config.root import Config
from daemon.console import BackfillProgress
from daemon.errors import HarvestdError, InputError
from daemon.http import HttpClient
from daemon.library.paths import place
from daemon.pipeline import (
    Intake,
    Listing,
    Plan,
    UnknownSource,
    follow_until_settled,
    listing_of,
    require_source,
    settle,
)
from daemon.resources import open_resources
from daemon.sources.base import Found
from daemon.sources.registry import build_source
from daemon.store import NewItem, RunCounts

log = structlog.get_logger("daemon.backfill")
CHUNK_ITEMS = 1000  # items planned, then waited for (bounds each poll of their states)
PLAN_BATCH = 50  # items enriched and enqueued at a time within a chunk
POLL_S = 0.25


class BackfillError(InputError):
    """Bad arguments (unknown source, malformed or reversed range): exit status 2."""


@asynccontextmanager
async def open_listing(cfg: Config, source_name: str, since: str | None, until: str | None,
                       mission: int | None = None) -> AsyncIterator[AsyncIterator[Found]]:
    """The source's listing of the range (or of one ``mission``), read as it is consumed.

    Its first entry is read on entry, so a wrong request fails here, before anything is
    opened; the listing has its own HTTP client, open until the block ends.

    Raises:
        BackfillError: unknown source, bad range, or ``mission`` for a kind without missions
            (one-line reason).
        SourceError, HttpError: the remote refused or failed.
    """
    try:
        source = build_source(source_name, require_source(source_name, cfg.sources))
    except UnknownSource as exc:
        raise BackfillError(str(exc)) from None
    async with HttpClient(cfg.http) as http:
        walk = source.mission(mission, http) if mission is not None else source.backfill(since, until, http)
        try:
            first: Found | None = await anext(walk)
        except StopAsyncIteration:
            first = None
        except ValueError as exc:
            if isinstance(exc, HarvestdError):
                raise
            raise BackfillError(str(exc)) from None
        yield _primed(first, walk)


async def _primed(first: Found | None, rest: AsyncIterator[Found]) -> AsyncIterator[Found]:
    try:
        if first is None:
            return
        yield first
        async for one in rest:
            yield one
    finally:  # left early: the walk closes its session now, not when collected
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()


async def collect_specs(cfg: Config, source_name: str, since: str | None, until: str | None,
                        mission: int | None = None) -> list[NewItem]:
    """Every item of the range as a list (small ranges: tests, benchmarks, dry checks);
    ``harvestd backfill`` streams the listing instead (:func:`open_listing`).

    Raises:
        BackfillError, SourceError, HttpError: as :func:`open_listing`.
    """
    async with open_listing(cfg, source_name, since, until, mission) as listing:
        return [place(one, source_name) async for one in listing if isinstance(one, NewItem)]


async def collect_file_specs(cfg: Config, source_name: str, path: Path) -> list[NewItem]:
    """Item specs from a JSON file of the source's records (``harvestd import``).

    Raises:
        BackfillError: unknown source, unreadable or invalid file, or a kind that cannot import.
    """
    try:
        source = build_source(source_name, require_source(source_name, cfg.sources))
    except UnknownSource as exc:
        raise BackfillError(str(exc)) from None
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return source.from_rows(json.loads(text))
    except OSError as exc:
        raise BackfillError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError included
        raise BackfillError(f"{path}: {exc}") from None


async def run_backfill(cfg: Config, source_name: str, listing: AsyncIterator[Found] | Iterable[NewItem],
                       on_progress: Callable[[BackfillProgress], None] | None = None,
                       trigger: str = "backfill") -> tuple[RunCounts, bool]:
    """Take ``listing`` (a source's listing, or items in hand) into the store and process it
    with this process's own downloader and worker; returns the counts and whether it was
    interrupted (SIGINT / SIGTERM).

    The listing is planned :data:`PLAN_BATCH` items at a time, each part handed to the
    downloader at once (its downloads run while the next part's pages are read); every
    :data:`CHUNK_ITEMS` items the run waits until the chunk has settled (bounds each poll).
    ``trigger`` names the run in ``runs`` (``backfill``, ``import``, ``retry``).

    Raises:
        BackfillError: the library cannot take files (full, unmounted): run again later.
        SourceError, HttpError: the listing failed part way (what it listed is kept).
    """
    found = listing if isinstance(listing, AsyncIterator) else listing_of(listing)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # a backfill ends with a verdict per item: no backoff waits here; transient failures are
    # final for this run and requeued by the next backfill of the range (Listing.RANGE)
    cfg = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(update={"max_attempts": 1})})
    counts = RunCounts()
    try:
        source = build_source(source_name, cfg.sources[source_name])
        async with open_resources(cfg, "backfill", source=source_name) as res:
            run_id = await res.store.start_run(source_name, trigger)
            intake = Intake(res.store, source, res.http, Listing.RANGE, run_id, counts)
            components = asyncio.Event()
            tasks = [asyncio.create_task(res.downloader.run(components)),
                     asyncio.create_task(res.worker.run(components))]
            chunk = Plan()

            def keep_waiting() -> bool:
                return not (stop.is_set() or any(t.done() for t in tasks) or res.downloader.guard.state.paused)

            async def settle_chunk() -> bool:
                """Wait for the chunk; False when the run must end (stopped)."""
                nonlocal chunk
                await follow_until_settled(
                    res.store, source_name, chunk, counts, keep_waiting, POLL_S, stop,
                    (lambda states: on_progress(_progress(counts, states, chunk))) if on_progress else None)
                for task in tasks:
                    if task.done():
                        task.result()  # a dead component is an error, not a silent stall
                guard = res.downloader.guard.state
                if guard.paused and not stop.is_set():  # e.g. the disk is full: end, say why
                    raise BackfillError(f"the library cannot take files: {guard.reason}; "
                                        "run the same command again once it can")
                if stop.is_set():
                    return False
                chunk = Plan()
                return True

            async def on_part(part: Plan) -> bool:
                chunk.merge(part)
                res.downloader.wake.set()
                if stop.is_set() or any(t.done() for t in tasks):
                    return await settle_chunk()
                return len(chunk.keys) < CHUNK_ITEMS or await settle_chunk()

            status = RunStatus.OK
            try:
                if await intake.take(found, PLAN_BATCH, on_part):
                    await settle_chunk()
                if stop.is_set():
                    status = RunStatus.INTERRUPTED
            except BaseException:
                status = RunStatus.FAILED
                raise
            finally:
                components.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                if chunk.pending:  # count what finished before the stop
                    settle(chunk, await res.store.item_states(source_name, sorted(chunk.pending)), counts)
                await res.store.finish_run(run_id, counts, status)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return counts, stop.is_set()


def summary_line(source: str, counts: RunCounts, verb: str = "backfill") -> str:
    """The one stdout line: ``backfill sky: total=864 new=830 duplicates=28 failed=6``."""
    return (f"{verb} {source}: total={counts.total} new={counts.new} "
            f"duplicates={counts.duplicates} failed={counts.failed}")


def _progress(counts: RunCounts, states: Mapping[str, tuple[str, str | None]], plan: Plan) -> BackfillProgress:
    """The counts so far, with the chunk's items stored but not processed yet as fetched."""
    fetched = (ItemStatus.DOWNLOADED, ItemStatus.PROCESSING)
    stored = sum(1 for key in plan.pending if states.get(key, ("", None))[0] in fetched)
    return BackfillProgress(total=counts.total, fetched=counts.new + counts.duplicates + stored,
                            settled=counts.new + counts.duplicates + counts.failed, new=counts.new,
                            duplicates=counts.duplicates, failed=counts.failed)
