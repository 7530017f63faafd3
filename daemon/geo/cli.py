"""``harvestd geo-task FILE.json``: a geo model task from the command line, with progress.

The task is the same as ``POST /api/run-model`` makes (same body, same caps, same store
row): this process takes its lease at creation and advances it; ``--resume ID`` carries on
with an unfinished one (after Ctrl-C, say). When another process holds the task (a daemon
on the same database), the command follows its progress instead of competing for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from daemon.aio import lease_owner
from daemon.codes import TaskKind, TaskStage
from daemon.config.root import Config
from daemon.errors import InputError
from daemon.geo.auth import MISSING, has_credentials
from daemon.geo.request import GeoRequestError, check_geo_request
from daemon.geo.runner import GeoContext, GeoTaskRunner
from daemon.http import HttpClient
from daemon.library.files import library_files
from daemon.store import Store, open_configured

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130
FINAL = (TaskStage.COMPLETED, TaskStage.FAILED)


def read_request(path: Path, cfg: Config) -> dict[str, Any]:
    """The validated request of ``path`` as stored params.

    Raises:
        InputError: the file cannot be read, is not JSON, or the request is invalid.
    """
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    try:
        req = check_geo_request(body, cfg.geo, cfg.models)
    except GeoRequestError as exc:
        raise InputError(f"{path}: {exc}") from None
    if req.data_source == "HLS" and not has_credentials():
        raise InputError(f"{path}: {MISSING}")
    return req.model_dump(mode="json")


def _bars(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


async def _follow(store: Store, task_id: int, progress: Progress | None, done: asyncio.Event) -> None:
    """Mirror the task's stored counts into the bars until ``done`` is set."""
    bars = ({"data_processing": progress.add_task("chips", total=None),
             "model_prediction": progress.add_task("predictions", total=None)} if progress else {})
    while True:
        task = await store.get_task(task_id)
        stages = ((task or {}).get("detail") or {}).get("stages", {})
        for name, bar in bars.items():
            counts = stages.get(name)
            if counts and progress is not None:
                progress.update(bar, total=counts["total"], completed=counts["done"] + counts["failed"])
        if done.is_set() or (task and task["stage"] in FINAL):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.3)


def _report(task: dict[str, Any], library_root: Path) -> list[str]:
    detail = task.get("detail") or {}
    lines = [f"task {task['id']}: {task['stage']}" + (f" — {task['error']}" if task.get("error") else "")]
    for box in detail.get("bboxes", []):
        steps = ", ".join(f"{s['date']} {s['status']}" for s in box["steps"])
        lines.append(f"  bbox {box['index']} {box['bbox']} (EPSG:{box['epsg']}): {steps}")
        for pred in box["predictions"]:
            where = library_root / pred["path"] if pred.get("path") else pred.get("error", "")
            lines.append(f"    {pred['cell']} {pred['status']}: {where}")
    return lines


def run_geo_task(cfg: Config, request_file: Path | None, resume: int | None, show_progress: bool) -> int:
    """Create (or resume) a geo task and advance it to its end; prints its outcome. Returns
    the exit status: 0 completed, 1 failed, 130 interrupted (resume with ``--resume ID``).

    Raises:
        InputError: a bad request file, or no such task to resume.
    """
    params = read_request(request_file, cfg) if request_file is not None else None

    async def main_async() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        owner = lease_owner("geo-task")
        async with open_configured(cfg) as store, HttpClient(cfg.http) as http:
            if params is not None:
                # leased at birth: a daemon on the same database leaves it to this process
                task_id = await store.create_task(TaskKind.GEO_MODEL, params, stage=TaskStage.DATA_PROCESSING,
                                                  lease_owner=owner)
                print(f"task {task_id}: created ({len(params['bboxes'])} bbox(es), "
                      f"model {params['model_type']})", flush=True)
            else:
                assert resume is not None
                found = await store.get_task(resume)
                if found is None or found["kind"] != TaskKind.GEO_MODEL:
                    raise InputError(f"no geo task {resume}")
                task_id = resume
            files = await library_files(cfg.library)
            context = GeoContext(cfg.geo, cfg.models, cfg.library.root,
                                 files if files.objects is not None else None)
            console = Console(file=sys.stderr)
            progress = _bars(console) if show_progress else None
            done = asyncio.Event()
            with ThreadPoolExecutor(cfg.worker.threads, thread_name_prefix="harvestd-cpu") as pool, \
                    progress or contextlib.nullcontext():
                follower = asyncio.create_task(_follow(store, task_id, progress, done))
                runner = GeoTaskRunner(store, http, lambda: context, pool, owner)
                stage = await runner.advance(task_id, stop)
                while stage not in (None, *FINAL) and not stop.is_set():  # a STAC outage: wait, retry
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), runner.retry_later_s)
                    if not stop.is_set():
                        stage = await runner.advance(task_id, stop)
                if stage is None:
                    print(f"task {task_id} is being advanced by another process (the daemon?): following it",
                          file=sys.stderr, flush=True)
                    await asyncio.wait([follower, asyncio.create_task(stop.wait())],
                                       return_when=asyncio.FIRST_COMPLETED)
                done.set()
                await follower
            task = await store.get_task(task_id)
        assert task is not None
        for line in _report(task, cfg.library.root):
            print(line, flush=True)
        if task["stage"] == TaskStage.COMPLETED:
            return EXIT_OK
        if task["stage"] == TaskStage.FAILED:
            return EXIT_FAILURE
        print(f"interrupted: carry on with  harvestd geo-task --resume {task_id}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED

    return asyncio.run(main_async())
