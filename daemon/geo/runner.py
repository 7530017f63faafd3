"""The geo model task: ``data_processing`` → ``model_prediction`` → ``completed | failed``.

One process at a time advances a task: it holds the task's lease (renewed while it works;
the daemon and ``harvestd geo-task`` both take it), so a task whose process died is taken
over once the lease expires.

A STAC API that is down or busy (5xx, a network error, 429 — after the HTTP client's own
retries) does not fail the task: it waits ``RETRY_LATER_S`` and tries again, its ``error``
saying why meanwhile; a refusal (another 4xx) fails it with the reason.

- **data_processing**: one STAC search per bbox over all its steps' windows; for each chip
  cell and step the least cloudy scene covering the chip (:func:`daemon.geo.stac.choose_scene`).
  The result — the *plan* — is stored once; then each planned chip is read (``[geo]
  chip_reads`` at a time, in threads) and written to
  ``{library}/geo/{task}/{bbox}/{date}[_r{row}c{col}].tif`` and recorded as an item of
  ``geo:{task}``. A restart resumes from the plan: recorded chips are not read again, the
  search is not repeated. A step without a scene is *missing* (reported, never invented).
- **model_prediction**: per chip cell, the model on its steps' chips (in the CPU pool):
  ``{library}/geo/{task}/{bbox}/{model}[_r{row}c{col}].tif`` + ``.png``, recorded as items
  with their statistics; resumed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort
import structlog

from daemon.aio import owner_is_dead, run_in_pool, wait_any
from daemon.codes import TaskKind, TaskStage
from daemon.errors import StoreUnavailable
from daemon.geo.auth import Earthdata
from daemon.geo.bands import DATA_SOURCES
from daemon.geo.chips import GDAL_ENV, BandRef, ChipReadError, ChipWindow, read_chip, write_geotiff
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.geo.grid import ChipGrid
from daemon.geo.indices import INDICES
from daemon.geo.plan import library_file, make_plan
from daemon.geo.predict import PredictionError, load_stack, open_session, run_index, run_onnx
from daemon.geo.report import CHIP_ON_DISK, summarize
from daemon.geo.request import GeoRequest
from daemon.http import HttpClient, HttpError
from daemon.library.files import LibraryFiles
from daemon.library.objects import ObjectStoreError
from daemon.store import Store

log = structlog.get_logger("daemon.geo")
PROGRESS_EVERY_S = 1.0
RETRY_LATER_S = 60.0  # a task whose STAC API failed (5xx, network) tries again after this


class Either:
    """Set when any of its events is (checked synchronously: no task in between)."""

    def __init__(self, *events: asyncio.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        """True once any event is set."""
        return any(e.is_set() for e in self.events)


@dataclass(frozen=True)
class GeoContext:
    """What a geo task reads from the config: ``[geo]``, ``[models]``, the library root."""

    settings: GeoSettings
    models: Mapping[str, GeoModelSettings]
    library_root: Path
    #: an S3 library: chips and predictions uploaded as they are written, chips fetched back
    #: into the working copy for the prediction stage
    files: LibraryFiles | None = None


def _grid(plan_box: Mapping[str, Any]) -> ChipGrid:
    return ChipGrid(**plan_box["grid"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class GeoTaskRunner:
    """``await runner.run(stop)`` advances every open geo task it can lease, oldest first;
    ``await runner.advance(task_id, stop)`` runs one task until it ends or ``stop`` is set."""

    def __init__(self, store: Store, http: HttpClient, context: Callable[[], GeoContext], pool: Executor,
                 owner: str, lease_s: float = 60.0, poll_s: float = 1.0) -> None:
        self.store = store
        self.http = http
        self.context = context
        self.pool = pool
        self.owner = owner
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.wake = asyncio.Event()
        self._sessions: dict[Path, ort.InferenceSession] = {}
        self._earthdata: Earthdata | None = None
        self._not_before: dict[int, float] = {}  # task id → monotonic time of its next attempt
        self.retry_later_s = RETRY_LATER_S
        #: called with (task id, item key) after each chip or prediction is recorded (CLI progress, tests)
        self.on_recorded: Callable[[int, str], None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; a failing task never stops the others."""
        while not stop.is_set():
            self.wake.clear()
            try:
                for task in await self.store.open_tasks([TaskKind.GEO_MODEL]):
                    if stop.is_set():
                        break
                    if self._not_before.get(task["id"], 0.0) > time.monotonic():
                        continue  # its STAC API failed a moment ago
                    await self.advance(task["id"], stop)
            except StoreUnavailable as exc:  # PostgreSQL restarting: the next poll carries on
                log.warning("store_unavailable_waiting", component="geo", error=str(exc))
                await wait_any([stop], max(self.poll_s, 5.0))
            await wait_any([stop, self.wake], self.poll_s)

    async def advance(self, task_id: int, stop: asyncio.Event) -> str | None:
        """Lease task ``task_id`` and advance it until it ends, ``stop`` is set or the lease
        is lost; returns its stage then (None: another process holds it)."""
        if not await self.store.lease_task(task_id, self.owner, self.lease_s, is_dead=owner_is_dead):
            return None
        lost = asyncio.Event()  # the lease went to another process
        halt = Either(stop, lost)
        renewer = asyncio.create_task(self._renew(task_id, lost))
        try:
            with structlog.contextvars.bound_contextvars(task_id=task_id, task_kind=TaskKind.GEO_MODEL):
                while not halt.is_set():
                    task = await self.store.get_task(task_id, with_follow=True)
                    if task is None or task["stage"] in (TaskStage.COMPLETED, TaskStage.FAILED):
                        return task["stage"] if task else None
                    try:
                        await self._step(task, halt)
                    except (HttpError, ObjectStoreError, StoreUnavailable) as exc:
                        if not exc.transient():
                            await self._fail(task_id, exc)
                            continue
                        # the STAC API is down or busy (after the client's retries): the task
                        # waits and tries again; its error says why meanwhile
                        self._not_before[task_id] = time.monotonic() + self.retry_later_s
                        log.warning("geo_task_retry_later", error=str(exc), retry_in_s=self.retry_later_s)
                        await self.store.update_task(task_id, error=f"waiting to retry: {exc}")
                        return task["stage"]
                    except Exception as exc:  # the reason is the task's, not the daemon's
                        await self._fail(task_id, exc)
                current = await self.store.get_task(task_id)
                return current["stage"] if current else None
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await asyncio.shield(self.store.release_task(task_id, self.owner))

    async def _fail(self, task_id: int, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("geo_task_failed", error=reason)
        await self.store.update_task(task_id, stage=TaskStage.FAILED, error=reason)

    async def _renew(self, task_id: int, lost: asyncio.Event) -> None:
        """Renew the lease every third of its length; when another process has taken it (this
        one stalled past its expiry), stop working on the task."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                held = await self.store.lease_task(task_id, self.owner, self.lease_s)
            except StoreUnavailable as exc:  # tried again a third of a lease later
                log.warning("geo_task_lease_not_renewed", error=str(exc))
                continue
            if not held:
                log.error("geo_task_lease_lost", owner=self.owner, detail="another process advances it now")
                lost.set()
                return

    async def _step(self, task: dict[str, Any], stop: Either) -> None:
        req = GeoRequest.model_validate(task["params"])
        ctx = self.context()
        if task["stage"] in (TaskStage.QUEUED, TaskStage.DATA_PROCESSING):
            plan = task["plan"] or await make_plan(self.http, task["id"], req, ctx.settings, ctx.models)
            if not task["plan"]:
                await self.store.update_task(task["id"], plan=plan, stage=TaskStage.DATA_PROCESSING)
            finished = await self._chips(task["id"], req, plan, ctx, stop)
            if finished:
                await self._next_stage(task["id"], req, plan, TaskStage.MODEL_PREDICTION)
        elif task["stage"] == TaskStage.MODEL_PREDICTION and await self._predict(task["id"], req, task["plan"],
                                                                                   ctx, stop):
            await self._next_stage(task["id"], req, task["plan"], TaskStage.COMPLETED)

    async def _next_stage(self, task_id: int, req: GeoRequest, plan: dict[str, Any], stage: TaskStage) -> None:
        detail = summarize(plan, await self.store.geo_items(task_id), req)
        counts = detail["stages"]["data_processing"]
        error = None
        if stage == TaskStage.MODEL_PREDICTION and counts["done"] == 0:
            stage, error = TaskStage.FAILED, detail["why_no_chips"]
        if stage == TaskStage.COMPLETED and detail["stages"]["model_prediction"]["done"] == 0:
            stage, error = TaskStage.FAILED, "no prediction succeeded (see detail.bboxes[].predictions)"
        await self.store.update_task(task_id, stage=stage, detail=detail, error=error, total=counts["total"],
                                     done=counts["done"], failed=counts["failed"])
        log.info("geo_task_stage", stage=str(stage), chips=counts["done"], missing=counts["missing"],
                 failed=counts["failed"], error=error)

    async def _chips(self, task_id: int, req: GeoRequest, plan: dict[str, Any], ctx: GeoContext,
                     stop: Either) -> bool:
        """Read every planned chip not recorded yet; True when none is left."""
        done = await self.store.geo_items(task_id)
        todo = [c for c in plan["chips"] if c["scene"] and c["key"] not in done]
        gate = asyncio.Semaphore(ctx.settings.chip_reads)
        env: dict[str, Any] = {**GDAL_ENV, "GDAL_HTTP_TIMEOUT": int(ctx.settings.timeout_s)}
        if req.data_source == "HLS" and todo:
            if self._earthdata is None or self._earthdata.token_url != ctx.settings.edl_token_url:
                self._earthdata = Earthdata(self.http, ctx.settings.edl_token_url)
            env.update(await self._earthdata.gdal_env())
        bands = req.bands(ctx.models)
        source = DATA_SOURCES[req.data_source]
        loop = asyncio.get_running_loop()
        last = [loop.time()]

        async def one(chip: dict[str, Any]) -> None:
            async with gate:
                if stop.is_set():
                    return
                await self._chip(task_id, chip, plan, bands, source.mask_bits, ctx, env)
            if self.on_recorded is not None:
                self.on_recorded(task_id, chip["key"])
            if loop.time() - last[0] > PROGRESS_EVERY_S:
                last[0] = loop.time()
                await self._progress(task_id, req, plan)

        await asyncio.gather(*(one(c) for c in todo))
        await self._progress(task_id, req, plan)
        return not stop.is_set()

    async def _progress(self, task_id: int, req: GeoRequest, plan: dict[str, Any]) -> None:
        detail = summarize(plan, await self.store.geo_items(task_id), req)
        counts = detail["stages"]["data_processing"]
        await self.store.update_task(task_id, detail=detail, total=counts["total"], done=counts["done"],
                                     failed=counts["failed"])

    async def _chip(self, task_id: int, chip: dict[str, Any], plan: dict[str, Any], bands: list[str],
                    bits: tuple[int, ...], ctx: GeoContext, env: dict[str, Any]) -> None:
        scene = plan["scenes"][chip["scene"]]
        grid = _grid(plan["bboxes"][chip["bbox"]])
        window = ChipWindow(grid.epsg, grid.transform(chip["row"], chip["col"]), grid.size)
        refs = [BandRef(scene["bands"][b]["href"], scene["bands"][b]["nodata"]) for b in bands]
        mask = BandRef(scene["mask"]["href"], scene["mask"]["nodata"]) if scene["mask"] else None
        target = ctx.library_root / chip["path"]

        def work() -> tuple[int, str, float]:
            stack, masked = read_chip(refs, mask, window, ctx.settings.mask_classes, bits, env)
            size = write_geotiff(
                target, stack, grid.epsg, window.transform, refs[0].nodata, bands,
                scales=[scene["bands"][b]["scale"] for b in bands],
                offsets=[scene["bands"][b]["offset"] for b in bands],
                tags={"scene": scene["id"], "scene_datetime": scene["datetime"], "step": chip["date"],
                      "cloud_cover": scene["cloud_cover"], "masked_fraction": round(masked, 6)})
            return size, _sha256(target), masked

        meta = {"scene": scene["id"], "scene_datetime": scene["datetime"], "cloud_cover": scene["cloud_cover"],
                "bbox": chip["bbox"], "step": chip["date"], "row": chip["row"], "col": chip["col"]}
        try:
            size, digest, masked = await asyncio.to_thread(work)
        except ChipReadError as exc:
            log.warning("geo_chip_failed", key=chip["key"], scene=scene["id"], error=str(exc))
            await self.store.record_geo_item(task_id, chip["key"], status="failed", metadata=meta,
                                             error_code="unavailable", error=str(exc))
            return
        meta["masked_fraction"] = round(masked, 6)
        if ctx.files is not None:  # recorded only once the bucket holds it
            await ctx.files.publish(chip["path"], digest, size)
        await self.store.record_geo_item(task_id, chip["key"], status="downloaded", path=chip["path"],
                                         size_bytes=size, sha256=digest, captured_at=scene["datetime"],
                                         metadata=meta)
        log.info("geo_chip", key=chip["key"], scene=scene["id"], path=chip["path"],
                 masked_fraction=round(masked, 4))

    async def _predict(self, task_id: int, req: GeoRequest, plan: dict[str, Any], ctx: GeoContext,
                       stop: Either) -> bool:
        """Run the model on every chip cell not predicted yet; True when none is left."""
        items = await self.store.geo_items(task_id)
        cells: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
        for chip in plan["chips"]:
            item = items.get(chip["key"])
            if item is not None and item.status in CHIP_ON_DISK:
                cells.setdefault((chip["bbox"], chip["row"], chip["col"]), []).append(chip)
        bands = req.bands(ctx.models)
        for (box, row, col), chips in sorted(cells.items()):
            if stop.is_set():
                return False
            key = f"b{box}/{req.model_type}/r{row}c{col}"
            if key in items:
                continue
            chips.sort(key=lambda c: c["date"])
            grid = _grid(plan["bboxes"][box])
            rel = library_file(req.model_type, task_id, box, grid, row, col)
            if ctx.files is not None:  # chips another run or node wrote: into the working copy
                paths = [await ctx.files.local(c["path"]) for c in chips]
            else:
                paths = [ctx.library_root / c["path"] for c in chips]
            try:
                summary = await self._run_model(req.model_type, ctx, paths,
                                                [c["date"] for c in chips], bands, ctx.library_root / rel)
            except (PredictionError, OSError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
                log.warning("geo_prediction_failed", key=key, error=str(exc))
                await self.store.record_geo_item(task_id, key, status="failed", error_code="processing",
                                                 error=str(exc), metadata={"bbox": box, "row": row, "col": col})
                if self.on_recorded is not None:
                    self.on_recorded(task_id, key)
                continue
            wrote = await asyncio.to_thread((ctx.library_root / rel).exists)  # classes: no raster
            if wrote and ctx.files is not None:
                for written in (rel, rel[:-4] + ".png"):
                    if await asyncio.to_thread((ctx.library_root / written).exists):
                        await ctx.files.publish(written)
            await self.store.record_geo_item(
                task_id, key, status="processed", path=rel if wrote else None,
                metadata={"bbox": box, "row": row, "col": col, "preview": rel[:-4] + ".png" if wrote else None,
                          **summary})
            log.info("geo_prediction", key=key, path=rel if wrote else None)
            if self.on_recorded is not None:
                self.on_recorded(task_id, key)
        return True

    async def _run_model(self, name: str, ctx: GeoContext, paths: list[Path], dates: list[str],
                         bands: list[str], out: Path) -> dict[str, Any]:
        if name in INDICES:
            model = INDICES[name]
            return await run_in_pool(self.pool, lambda: run_index(model, load_stack(paths, dates, bands), out))
        spec = ctx.models[name]
        session = self._sessions.get(spec.path)
        if session is None:
            session = self._sessions[spec.path] = await run_in_pool(self.pool, open_session, spec.path)
        chosen = session
        return await run_in_pool(self.pool,
                                 lambda: run_onnx(chosen, spec, name, load_stack(paths, dates, bands), out))
