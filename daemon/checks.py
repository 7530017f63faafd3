"""``harvestd check-config`` and ``harvestd check-source``: is this configuration usable here,
and does this source answer? One line each, and an exit status (see :mod:`daemon.cli`)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from daemon.config.root import Config
from daemon.downloads.aria2.process import find_aria2c
from daemon.errors import SourceError
from daemon.http import HttpClient, HttpError
from daemon.pipeline import require_source
from daemon.sources.registry import build_source
from daemon.writable import writable_problem

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def check_config(path: Path, cfg: Config) -> int:
    """``harvestd check-config``: the config is valid (already loaded), aria2c is there when
    required, and every folder is writable by this user; prints one line, returns the exit status."""
    aria2c = find_aria2c(cfg.downloads.aria2.binary)
    if cfg.downloads.backend == "aria2" and aria2c is None:
        print(f"{path}: downloads.backend = \"aria2\" but {cfg.downloads.aria2.binary!r} is not on PATH"
              " (install Debian's 'aria2' package)", file=sys.stderr)
        return EXIT_USAGE
    problems = unwritable(cfg)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    backend = "builtin" if cfg.downloads.backend == "builtin" or aria2c is None else f"aria2 ({aria2c})"
    names = ", ".join(f"{n} ({s.kind})" for n, s in cfg.sources.items()) or "none"
    print(f"{path}: OK; database {cfg.db_path}; library {cfg.library.root}; downloads: {backend};"
          f" sources: {names}")
    return EXIT_OK


def unwritable(cfg: Config) -> list[str]:
    """The folders of ``cfg`` this user cannot write, one sentence each (naming the key)."""
    folders: list[tuple[str, Path]] = [("data_dir", cfg.data_dir), ("store.path", cfg.db_path.parent)]
    # a share not mounted yet is not a config error: the daemon waits for it (or uses
    # fallback_root) and says so
    if not cfg.library.require_mount or os.path.ismount(cfg.library.root):
        folders.append(("library.root", cfg.library.root))
    if cfg.library.fallback_root is not None:
        folders.append(("library.fallback_root", cfg.library.fallback_root))
    if cfg.downloads.staging_dir is not None:
        folders.append(("downloads.staging_dir", cfg.downloads.staging_dir))
    problems: list[str] = []
    refused: list[Path] = []
    for key, folder in folders:
        if any(folder == r or r in folder.parents for r in refused):
            continue  # inside a folder already reported: one line is enough
        if (problem := writable_problem(folder)) is not None:
            refused.append(folder)
            hint = " (under systemd the unit sets HARVESTD_DATA_DIR to its state directory)" \
                if key == "data_dir" else ""
            problems.append(f"{key}: {problem}{hint}")
    return problems


def check_source(cfg: Config, name: str, timeout_s: float) -> int:
    """``harvestd check-source NAME``: sign in and one listing call (:meth:`Source.probe`);
    prints one line, returns 0 (answered) or 1 (did not).

    Raises:
        UnknownSource: no such source (the CLI prints it, exit 2)."""
    source = build_source(name, require_source(name, cfg.sources))  # UnknownSource: the CLI, exit 2
    label = f"check-source {name} ({source.kind})"

    async def main_async() -> int:
        started = time.monotonic()
        try:
            async with HttpClient(cfg.http) as http, asyncio.timeout(timeout_s):
                source.suggest_limits(http)
                found = await source.probe(http)
        except (SourceError, HttpError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {timeout_s:g} s"
            print(f"{label}: failed after {time.monotonic() - started:.2f} s: {reason}", flush=True)
            return EXIT_FAILURE
        print(f"{label}: ok in {time.monotonic() - started:.2f} s: {found}", flush=True)
        return EXIT_OK

    return asyncio.run(main_async())
