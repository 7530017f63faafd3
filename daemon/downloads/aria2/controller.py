"""The aria2c backend: claimed items become aria2 downloads; the store stays the truth.

Each claimed item is added with ``aria2.addUri`` under a deterministic GID (the item id as
16 hex digits, so adding again after any restart is idempotent), into the staging folder
as ``<gid>-<name>``, with the source's checksum when it has one. Notifications only hint
that something finished; :meth:`Aria2Downloader.reconcile` compares aria2's active, waiting
and stopped lists with the downloads this process tracks: finished ones are handed to their
item's task (seal, verify, publish, record — as the built-in backend), missing ones are
added again, unknown ones left by an earlier run are adopted when their item is free, and
progress (bytes done/total, speed) is written to the store for ``harvestd status``.
aria2's error codes decide retry or final (:mod:`daemon.downloads.aria2.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from daemon.aio import GroupCommit
from daemon.config.settings import DownloadSettings, LibrarySettings
from daemon.downloads.aria2.errors import Aria2Failure, classify
from daemon.downloads.aria2.process import Aria2Process
from daemon.downloads.aria2.rpc import Aria2Error, Aria2Rpc, Aria2Unavailable
from daemon.downloads.aria2.supervisor import Aria2Supervisor
from daemon.downloads.base import Downloader, Target
from daemon.downloads.staging import finished_leftover
from daemon.http import HttpClient
from daemon.images import FITS_SUFFIXES, CorruptImage
from daemon.library.publish import ChecksumMismatch, is_image, parse_checksum
from daemon.store import Item, Store, StoreDamaged, Transfer
from daemon.store.models import CHECKSUM_ERROR, NETWORK_ERROR, STORAGE_ERROR

log = structlog.get_logger("daemon.downloads.aria2")
KEYS = ["gid", "status", "totalLength", "completedLength", "downloadSpeed", "connections",
        "errorCode", "errorMessage"]
LIVE = frozenset({"active", "waiting", "paused"})
STOPPED = frozenset({"complete", "error", "removed"})
LIST_MAX = 10_000
_BUSY = re.compile(r"status=(429|503)\b")  # aria2c's errorMessage for a busy host


def gid_for(item_id: int) -> str:
    """The item's aria2 GID: its id as 16 hex digits (GID 0 is reserved; ids start at 1)."""
    return f"{item_id:016x}"


def item_id_of(gid: str) -> int | None:
    """Inverse of :func:`gid_for`; None for a GID harvestd did not make."""
    try:
        value = int(gid, 16)
    except ValueError:
        return None
    return value if len(gid) == 16 and value > 0 else None


def _int(status: dict[str, Any], key: str) -> int:
    try:
        return int(status.get(key) or 0)
    except (TypeError, ValueError):
        return 0


@dataclass
class Tracked:
    """A download this process owns: its item, paths, and the future its outcome lands in."""

    item: Item
    target: Target
    staged: Path
    gid: str
    outcome: asyncio.Future[dict[str, Any]]
    checksum_retried: bool = False
    submitted: bool = False  # aria2c accepted it (or already had it)
    submitted_at: float = 0.0  # loop time of that
    adding: bool = False
    admitted: bool = False  # the host's pace (and any 503/429 hold) let it go


class Aria2Downloader(Downloader):
    """Download loop over the store, driving a supervised aria2c. ``await run(stop)``."""

    backend = "aria2"

    def __init__(self, store: Store, http: HttpClient, library: LibrarySettings, settings: DownloadSettings,
                 pool: Executor, owner: str, *, binary: str, name: str, state_dir: Path,
                 runtime_dir: Path, source: str | None = None,
                 on_downloaded: Callable[[], None] | None = None) -> None:
        """``binary`` is the resolved aria2c path; ``name`` names its session/conf/pid files."""
        super().__init__(store, library, settings, pool, owner, source, on_downloaded)
        self.http = http
        process = Aria2Process(settings.aria2, binary=binary, name=name, state_dir=state_dir,
                               runtime_dir=runtime_dir, staging=self.staging,
                               user_agent=http.settings.user_agent)
        self.supervisor = Aria2Supervisor(process, http.session, lambda: self.settings.aria2,
                                          self.reconcile)
        self._tracked: dict[str, Tracked] = {}
        self._purge: set[str] = set()
        self._doomed: dict[str, list[Path]] = {}  # GID → staged files to delete once removed
        self._adds: GroupCommit[Tracked, Any] = GroupCommit(self._add_many)

    @property
    def capacity(self) -> int:
        return self.settings.aria2.effective_queue_depth

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise aria2c and hand it claimed items until ``stop``; then stop aria2c."""
        supervisor_stop = asyncio.Event()
        supervising = asyncio.create_task(self.supervisor.run(supervisor_stop), name="aria2-supervisor")
        try:
            await super().run(stop)
        finally:
            supervisor_stop.set()
            await supervising

    @property
    def restarts(self) -> int:
        """How often the supervisor restarted aria2c."""
        return self.supervisor.restarts

    def health(self) -> dict[str, Any]:
        """Ok while aria2c answers (a restart in progress is not ok); with its restart count."""
        return {**super().health(), "ok": self.supervisor.ready.is_set(), "aria2_restarts": self.restarts}

    def busy_item_ids(self) -> set[int]:
        """Every item aria2c is fetching for this process (tracked, or being removed)."""
        ids = {t.item.id for t in self._tracked.values()}
        return ids | {i for g in self._doomed if (i := item_id_of(g)) is not None}

    # ------------------------------------------------------------------ one item
    async def handle(self, work: Item) -> None:
        with structlog.contextvars.bound_contextvars(source=work.source, key=work.key):
            await self._download(work)

    async def _download(self, item: Item) -> None:
        tracked: Tracked | None = None
        keep_in_aria2 = False
        if item.checksum:
            try:
                parse_checksum(item.checksum)
            except ValueError as exc:
                await self.fail(item, CHECKSUM_ERROR, f"unusable checksum from the source: {exc}")
                return
        try:
            target = await self.target(item)
            if await self.adopt_existing(item, target):
                return
            staged = self.staging_path(item, target.final)
            if await self._finished_before(item, target, staged):
                return
            future = asyncio.get_running_loop().create_future()
            tracked = Tracked(item, target, staged, gid_for(item.id), future)
            self._tracked[tracked.gid] = tracked
            await self.http.admit(item.url or "")
            tracked.admitted = True
            await self._submit(tracked)
            await self._follow(tracked)
        except asyncio.CancelledError:
            keep_in_aria2 = True  # stopping: aria2c saves it in its session, the next run adopts it
            raise
        except StoreDamaged:  # the database, not the item: stop (never label the item)
            raise
        except Exception as exc:  # one bad item never kills the loop
            if isinstance(exc, ChecksumMismatch | CorruptImage):  # size differs, or not an image
                await self._discard(tracked)
            await self.record_failure(item, exc)
        finally:
            if tracked is not None and self._tracked.get(tracked.gid) is tracked:
                del self._tracked[tracked.gid]
                if not keep_in_aria2:
                    self._purge.add(tracked.gid)

    async def _follow(self, tracked: Tracked) -> None:
        item = tracked.item
        while True:
            status = await tracked.outcome
            state = status.get("status")
            if state == "complete":
                await self.complete(item, tracked.target, tracked.staged,
                                    expected_size=_int(status, "totalLength") or None)
                return
            if state == "removed":
                failure = Aria2Failure(0, "removed from aria2c outside harvestd", "retry", NETWORK_ERROR)
            else:
                failure = classify(status.get("errorCode"), str(status.get("errorMessage") or ""))
            if failure.policy == "checksum" and not tracked.checksum_retried:
                log.warning("download_checksum_mismatch_refetching", error=failure.words)
                tracked.checksum_retried = True
                # listings taken before now still show the failed attempt: ignore them
                tracked.submitted = False
                tracked.submitted_at = asyncio.get_running_loop().time()
                await self._discard(tracked)
                tracked.outcome = asyncio.get_running_loop().create_future()
                await self._submit(tracked)
                continue
            if failure.policy == "retry":  # partial data stays staged: the next attempt resumes
                code, words = failure.error_code, failure.words
                if _BUSY.search(str(status.get("errorMessage") or "")):
                    await self._hold_host(item, self.settings.retry_delay_s(item.attempts))
                if await self._out_of_space():  # aria2c says "unknown error" when the disk is full
                    code, words = STORAGE_ERROR, f"disk full ({failure.words})"
                if code == STORAGE_ERROR or await asyncio.to_thread(_empty, tracked.staged):
                    await self._discard(tracked)  # an empty file and its control file resume nothing
                await self.retry_later(item, code, words)
            else:
                await self._discard(tracked)
                await self.fail(item, failure.error_code, failure.words)
            return

    async def _hold_host(self, item: Item, delay_s: float) -> None:
        """The host answered 503/429: no new download of it for ``delay_s`` (``admit`` waits),
        and the ones aria2c has queued for it are paused (a full reconcile unpauses them once
        the hold is over)."""
        url = item.url or ""
        self.http.hold(url, delay_s)
        host = urlsplit(url).netloc
        gids = [g for g, t in self._tracked.items()
                if g != gid_for(item.id) and urlsplit(t.item.url or "").netloc == host and not t.outcome.done()]
        rpc = self.supervisor.rpc
        paused = 0
        if rpc is not None and gids:
            answers = await rpc.multicall([("aria2.forcePause", [g]) for g in gids])
            paused = sum(1 for a in answers if not isinstance(a, Aria2Error))
        log.warning("download_host_held", host=host, hold_s=round(self.http.held_for_s(url), 1),
                    paused=paused, detail="the host answered 503/429; its downloads wait")

    async def _out_of_space(self) -> bool:
        """Re-check the library now: True when it is full (downloads then pause until space
        is back, see :mod:`daemon.library`)."""
        state = await self.recheck_library()
        return state.paused and state.full

    async def _submit(self, tracked: Tracked) -> None:
        """Add to aria2c unless it already has this GID; while aria2c is down, the first
        reconcile after it is back adds it (every tracked download missing there is added)."""
        rpc = self.supervisor.rpc
        if tracked.submitted or not self.supervisor.ready.is_set() or rpc is None:
            return  # a reconcile already added it, or will once aria2c is back
        with contextlib.suppress(Aria2Unavailable):  # the supervisor restarts; reconcile re-adds
            await self._add(rpc, tracked)

    async def _add(self, rpc: Aria2Rpc, tracked: Tracked) -> None:
        """Make sure aria2c has this download (one add at a time per download)."""
        if tracked.adding:
            return
        tracked.adding = True
        try:
            # no tellStatus first: an add of a GID aria2c already has is refused, checked below
            added = await self._adds.submit(tracked)
            if not isinstance(added, Aria2Error):
                tracked.submitted = True
                tracked.submitted_at = asyncio.get_running_loop().time()
            elif not await self._already_there(rpc, tracked) and not tracked.outcome.done():
                tracked.outcome.set_result({"status": "error", "errorCode": "28",
                                            "errorMessage": f"aria2c refused the download: {added.message}"})
        finally:
            tracked.adding = False

    async def _add_many(self, batch: list[Tracked]) -> list[Any]:
        """Adds gathered while the previous batch was sent: one thread trip, one multicall."""
        rpc = self.supervisor.rpc
        if rpc is None or not self.supervisor.ready.is_set():
            raise Aria2Unavailable("aria2c is not running")
        await asyncio.to_thread(_drop_stale_staged, *[t.staged for t in batch])
        calls: list[tuple[str, list[Any]]] = []
        for t in batch:
            options = {"gid": t.gid, "dir": str(t.staged.parent), "out": t.staged.name}
            if t.item.checksum:
                options["checksum"] = t.item.checksum
            calls.append(("aria2.removeDownloadResult", [t.gid]))  # an old attempt's result, if any
            calls.append(("aria2.addUri", [[t.item.url], options]))
        answers = await rpc.multicall(calls)
        return answers[1::2]

    async def _already_there(self, rpc: Aria2Rpc, tracked: Tracked) -> bool:
        """True when aria2c has this GID unfinished (e.g. from its session) or finished with
        the staged file present; a finished one resolves the download's outcome."""
        try:
            status = await rpc.call("aria2.tellStatus", tracked.gid, KEYS)
        except Aria2Error:
            return False  # "GID … is not found"
        state = status.get("status")
        if state in LIVE or (state == "complete" and await asyncio.to_thread(tracked.staged.exists)):
            if not tracked.submitted:
                log.info("aria2_download_continues", gid=tracked.gid, state=state)
                tracked.submitted = True
                tracked.submitted_at = asyncio.get_running_loop().time()
            if state == "complete" and not tracked.outcome.done():
                tracked.outcome.set_result(status)
            return True
        return False

    async def _finished_before(self, item: Item, target: Target, staged: Path) -> bool:
        """An image a killed run's aria2c finished but nobody published (no control file, no
        preallocation, unknown to aria2c now) is decoded and published instead of fetched
        again. False when there is none, or it does not verify (then it is deleted)."""
        decodable = is_image(target.final) and target.final.suffix.lower() not in FITS_SUFFIXES
        if (self.settings.aria2.file_allocation != "none" or not decodable
                or not await asyncio.to_thread(finished_leftover, staged)):
            return False
        with contextlib.suppress(TimeoutError):  # only aria2c can say it is not working on it
            async with asyncio.timeout(self.settings.aria2.rpc_timeout_s):
                await self.supervisor.ready.wait()
        rpc = self.supervisor.rpc
        if rpc is None or not self.supervisor.ready.is_set():
            return False
        try:
            await rpc.call("aria2.tellStatus", gid_for(item.id), ["status"])
            return False  # aria2c has it (a restored session): the normal path follows it
        except Aria2Error:
            pass  # "GID … is not found"
        except Aria2Unavailable:
            return False
        try:
            landed = await self.complete(item, target, staged)
        except (CorruptImage, ChecksumMismatch) as exc:
            log.info("staged_leftover_discarded", reason=str(exc))
            await asyncio.to_thread(_delete_staged, staged)
            return False
        log.info("staged_leftover_published", path=str(landed), detail="finished before a restart")
        return True

    async def _discard(self, tracked: Tracked | None) -> None:
        """Delete the staged file and its ``.aria2`` control file."""
        if tracked is None:
            return
        for path in (tracked.staged, _control_file(tracked.staged)):
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink, True)

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self, rpc: Aria2Rpc, full: bool) -> None:
        """Compare aria2c's lists with what this process tracks (see the module docstring)."""
        if self._purge:
            gids, self._purge = sorted(self._purge), set()
            await rpc.multicall([("aria2.removeDownloadResult", [g]) for g in gids])
        calls: list[tuple[str, list[Any]]] = [("aria2.tellStopped", [0, LIST_MAX, KEYS])]
        if full:
            calls += [("aria2.tellActive", [KEYS]), ("aria2.tellWaiting", [0, LIST_MAX, KEYS])]
        seen: dict[str, dict[str, Any]] = {}
        listed_at = asyncio.get_running_loop().time()
        for answer in await rpc.multicall(calls):
            if isinstance(answer, Aria2Error):
                raise Aria2Unavailable(f"aria2c could not list downloads: {answer.message}")
            for status in answer:
                seen[str(status.get("gid"))] = status
        for gid in [g for g in self._doomed if full and seen.get(g, {}).get("status") not in LIVE]:
            for path in self._doomed.pop(gid):
                await asyncio.to_thread(_delete_staged, path)
        progress: list[Transfer] = []
        orphans: list[dict[str, Any]] = []
        release = [g for g, st in seen.items() if full and st.get("status") == "paused"
                   and (t := self._tracked.get(g)) is not None and not self.http.held_for_s(t.item.url or "")]
        if release:  # paused while their host was held (or restored paused from a session)
            await rpc.multicall([("aria2.unpause", [g]) for g in release])
        for gid, status in seen.items():
            tracked = self._tracked.get(gid)
            if tracked is None:
                orphans.append(status)
            elif status.get("status") in STOPPED:
                # only a listing taken after the latest add speaks about this attempt
                if not tracked.outcome.done() and listed_at > tracked.submitted_at:
                    tracked.outcome.set_result(status)
            else:
                progress.append(Transfer(tracked.item.id, gid, str(status.get("status")),
                                         _int(status, "completedLength"), _int(status, "totalLength"),
                                         _int(status, "downloadSpeed"), _int(status, "connections")))
        if not full:  # orphans are dealt with by the next full pass
            return
        for gid, tracked in list(self._tracked.items()):
            if gid in seen or tracked.outcome.done() or tracked.adding:
                continue
            if not tracked.submitted:  # claimed while aria2c was down (and let go by its host)
                if tracked.admitted:
                    await self._add(rpc, tracked)
            elif tracked.submitted_at < listed_at:  # aria2c lost it (restarted without it)
                log.warning("aria2_download_missing_readding", gid=gid, key=tracked.item.key)
                tracked.submitted = False
                await self._add(rpc, tracked)
        await self._adopt(rpc, orphans)
        await self.store.record_transfers(progress)

    async def _adopt(self, rpc: Aria2Rpc, orphans: list[dict[str, Any]]) -> None:
        """Downloads aria2c has but nobody here follows (a session from an earlier run).

        Free items are leased and continued; the rest (done already, failed, or leased by
        another process) are removed from aria2c, and their staged data deleted unless
        someone is downloading that item right now.
        """
        live: dict[int, str] = {}  # unfinished or complete: worth continuing
        for status in orphans:
            item_id = item_id_of(str(status.get("gid")))
            if item_id is not None and status.get("status") in LIVE | {"complete"}:
                live[item_id] = status["gid"]
            else:
                self._purge.add(str(status.get("gid")))
        if not live:
            return
        state = await self.guard.check(self.settings.staging_dir)
        if state.root is None:  # the library is unusable: leave them in aria2c for later
            return
        self.library_root = state.root
        adopted = await self.store.claim_items_by_id(self.owner, list(live), self.lease_s, self.source)
        for item in adopted:
            log.info("aria2_download_adopted", gid=live[item.id], source=item.source, key=item.key)
            self.start_work(item)
        rest = {i: g for i, g in live.items() if i not in {it.id for it in adopted}}
        if not rest:
            return
        in_flight = await self.store.items_in_flight(list(rest))
        rest = {i: g for i, g in rest.items() if in_flight.get(i) != self.owner}  # ours: tracked soon
        if not rest:
            return
        answers = await rpc.multicall([("aria2.tellStatus", [g, ["files"]]) for g in rest.values()])
        await rpc.multicall([("aria2.forceRemove", [g]) for g in rest.values()])
        self._purge.update(rest.values())
        log.info("aria2_foreign_downloads_removed", count=len(rest))
        staging = self.staging
        for (item_id, gid), answer in zip(rest.items(), answers, strict=True):
            if item_id in in_flight or isinstance(answer, Aria2Error):
                continue
            paths = [Path(str(e.get("path") or "")) for e in answer.get("files") or []]
            # deleted once aria2c has let go (it rewrites the control file while removing)
            self._doomed[gid] = [p for p in paths if p.parent == staging]


def _empty(staged: Path) -> bool:
    """The staged file is missing or holds no byte yet."""
    try:
        return staged.stat().st_size == 0
    except OSError:
        return True


def _control_file(staged: Path) -> Path:
    return staged.with_name(staged.name + ".aria2")


def _delete_staged(staged: Path) -> None:
    staged.unlink(missing_ok=True)
    _control_file(staged).unlink(missing_ok=True)


def _drop_stale_staged(*staged_files: Path) -> None:
    """A staged file without its ``.aria2`` control file cannot be resumed safely: delete it.

    (With preallocation its length says nothing about how much of it was written.)
    """
    for staged in staged_files:
        if staged.exists() and not _control_file(staged).exists():
            staged.unlink()
