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
from collections.abc import Callable
from pathlib import Path

import structlog

from daemon.aio import wait_any
from daemon.config.root import Config
from daemon.console import BackfillProgress
from daemon.errors import InputError
from daemon.harvest import Plan, only_items, plan_backfill, settle
from daemon.http import HttpClient
from daemon.resources import open_resources
from daemon.sources.registry import build_source
from daemon.store import NewItem, RunCounts

log = structlog.get_logger("daemon.backfill")
CHUNK_ITEMS = 1000  # items planned, then waited for (bounds each poll of their states)
PLAN_BATCH = 50  # items enriched and enqueued at a time within a chunk
POLL_S = 0.25


class BackfillError(InputError):
    """Bad arguments (unknown source, malformed or reversed range): exit status 2."""


async def collect_specs(cfg: Config, source_name: str, since: str | None, until: str | None,
                        mission: int | None = None) -> list[NewItem]:
    """Item specs of the range (or of one ``mission``), before anything is opened.

    Raises:
        BackfillError: unknown source, bad range, or ``mission`` for a kind without missions
            (one-line reason).
        SourceError, HttpError: the remote refused or failed.
    """
    if source_name not in cfg.sources:
        known = ", ".join(sorted(cfg.sources)) or "none configured"
        raise BackfillError(f"unknown source {source_name!r} (known: {known})")
    source = build_source(source_name, cfg.sources[source_name])
    try:
        async with HttpClient(cfg.http) as http:
            if mission is not None:
                return await only_items(source.mission(mission, http))
            return await only_items(source.backfill(since, until, http))
    except ValueError as exc:
        raise BackfillError(str(exc)) from None


async def collect_file_specs(cfg: Config, source_name: str, path: Path) -> list[NewItem]:
    """Item specs from a JSON file of the source's records (``harvestd import``).

    Raises:
        BackfillError: unknown source, unreadable or invalid file, or a kind that cannot import.
    """
    if source_name not in cfg.sources:
        known = ", ".join(sorted(cfg.sources)) or "none configured"
        raise BackfillError(f"unknown source {source_name!r} (known: {known})")
    source = build_source(source_name, cfg.sources[source_name])
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return source.from_rows(json.loads(text))
    except OSError as exc:
        raise BackfillError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError included
        raise BackfillError(f"{path}: {exc}") from None


async def run_backfill(cfg: Config, source_name: str, specs: list[NewItem],
                       on_progress: Callable[[BackfillProgress], None] | None = None,
                       trigger: str = "backfill") -> tuple[RunCounts, bool]:
    """Enqueue and process ``specs``; returns the counts and whether it was interrupted.

    ``trigger`` names the run in ``runs`` (``backfill``, ``import``, ``retry``).
    """
    counts = RunCounts(total=len(specs))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # a backfill ends with a verdict per item: no backoff waits here; transient failures are
    # final for this run and requeued by the next backfill of the range (TRANSIENT_CODES)
    cfg = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(update={"max_attempts": 1})})
    try:
        source = build_source(source_name, cfg.sources[source_name])
        async with open_resources(cfg, "backfill", source=source_name) as res:
            run_id = await res.store.start_run(source_name, trigger)
            components = asyncio.Event()
            tasks = [asyncio.create_task(res.downloader.run(components)),
                     asyncio.create_task(res.worker.run(components))]
            status = "ok"
            plan: Plan | None = None
            try:
                for offset in range(0, len(specs), CHUNK_ITEMS):
                    chunk = specs[offset:offset + CHUNK_ITEMS]
                    plan = Plan()
                    # planned in small parts, each handed to the downloader at once: its
                    # downloads run while the next part's pages are read (issue 13)
                    for start in range(0, len(chunk), PLAN_BATCH):
                        part_specs = chunk[start:start + PLAN_BATCH]
                        part = await plan_backfill(res.store, source, part_specs, res.http, run_id)
                        plan.keys += part.keys
                        plan.pending |= part.pending
                        plan.duplicates |= part.duplicates
                        counts.total += len(part.keys) - len(part_specs)  # companions found on the way
                        counts.duplicates += len(part.duplicates)
                        res.downloader.wake.set()
                        if stop.is_set() or any(t.done() for t in tasks):
                            break
                    pending_keys = sorted(plan.pending)
                    while not stop.is_set():
                        states = await res.store.item_states(source_name, pending_keys)
                        finished = settle(plan, states, counts)
                        if on_progress:
                            on_progress(_progress(counts, states, plan))
                        if finished or any(t.done() for t in tasks) or res.downloader.guard.state.paused:
                            break
                        await wait_any([stop], POLL_S)
                    for task in tasks:
                        if task.done():
                            task.result()  # a dead component is an error, not a silent stall
                    guard = res.downloader.guard.state
                    if guard.paused and not stop.is_set():  # e.g. the disk is full: end, say why
                        raise BackfillError(f"the library cannot take files: {guard.reason}; "
                                            "run the same command again once it can")
                    if stop.is_set():
                        status = "interrupted"
                        break
            except BaseException:
                status = "failed"
                raise
            finally:
                components.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                if plan is not None and plan.pending:  # count what finished before the stop
                    settle(plan, await res.store.item_states(source_name, sorted(plan.pending)), counts)
                await res.store.finish_run(run_id, counts, status)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return counts, stop.is_set()


def summary_line(source: str, counts: RunCounts, verb: str = "backfill") -> str:
    """The one stdout line: ``backfill sky: total=864 new=830 duplicates=28 failed=6``."""
    return (f"{verb} {source}: total={counts.total} new={counts.new} "
            f"duplicates={counts.duplicates} failed={counts.failed}")


def _progress(counts: RunCounts, states: dict[str, tuple[str, str | None]], plan: Plan) -> BackfillProgress:
    """The counts so far, with the chunk's items stored but not processed yet as fetched."""
    stored = sum(1 for key in plan.pending if states.get(key, ("", None))[0] in ("downloaded", "processing"))
    return BackfillProgress(total=counts.total, fetched=counts.new + counts.duplicates + stored,
                            settled=counts.new + counts.duplicates + counts.failed, new=counts.new,
                            duplicates=counts.duplicates, failed=counts.failed)
