"""The ``harvestd`` command line: run, backfill, import, retry, stats, check-config, check-source, backup,
pause, resume, geo-task, status.

Exit status: 0 success; 1 runtime failure; 2 bad usage or invalid configuration;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from daemon import __version__
from daemon.aio import set_node_name
from daemon.config.load import find_config, load_config
from daemon.config.root import Config
from daemon.errors import ConfigError, HarvestdError, InputError
from daemon.logs import configure_logging, register_config_secrets

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

DESCRIPTION = """\
harvestd finds new images at remote sources on a schedule, downloads them into a
library folder, records them in SQLite and runs image models (cloud cover in octas,
NDVI) on them; it serves a dashboard on its API address and runs satellite-chip model
tasks for bounding boxes. Configuration: config.toml (see README.md, "Configuration
reference").
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="PATH",
        help="config file (default: ./config.toml, then /etc/harvestd/config.toml)",
    )
    parser.add_argument(
        "--log-format", choices=["auto", "journal", "json", "logfmt", "console"], default="auto",
        help="log line format on stderr (default auto: journal under systemd, console on a "
             "terminal, logfmt otherwise)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="override [daemon] log_level")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` text included)."""
    parser = argparse.ArgumentParser(prog="harvestd", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"harvestd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon (foreground; systemd runs this)",
                         description="Run the daemon until SIGTERM/SIGINT. SIGHUP reloads the "
                                     "config (an invalid file is rejected, the old one stays).")
    _common(run)

    backfill = sub.add_parser(
        "backfill", help="fetch and process a past range of a source",
        description="Fetch and process every item of SOURCE in [--since, --until], wait until "
                    "all are processed, then print one line: 'backfill SOURCE: total=N new=N "
                    "duplicates=N failed=N'. Safe beside a running daemon; re-run after Ctrl-C "
                    "to complete the range. total counts every item of the range, companions "
                    "included (a NASA photo's camera file and GeoTIFF), the same on every run. A "
                    "slooh source walks its whole account when no range is given (or with "
                    "--full); skycam and nasa_iss need both bounds.",
    )
    backfill.add_argument("source", help="a source name from [sources.NAME] in the config")
    backfill.add_argument("--since", metavar="WHEN",
                          help="range start: skycam YYYY-MM-DDTHH:MM in the camera's time zone; "
                               "nasa_iss and slooh YYYY-MM-DD (UTC date)")
    backfill.add_argument("--until", metavar="WHEN",
                          help="range end, inclusive, in the same form")
    backfill.add_argument("--full", action="store_true",
                          help="everything the source lists (slooh: every picture and FITS frame); "
                               "not with --since/--until")
    backfill.add_argument("--mission", type=int, metavar="ID",
                          help="slooh: only this mission's pictures and FITS frames (its "
                               "scheduledMissionId); not with --since/--until/--full")
    backfill.add_argument("--no-progress", action="store_true",
                          help="no progress bar even on a terminal")
    _common(backfill)

    imp = sub.add_parser(
        "import", help="fetch and process the items listed in a file (e.g. saved API rows)",
        description="Read FILE (JSON: for nasa_iss a list of PhotosDatabaseAPI rows), then "
                    "proceed as backfill does and print 'import SOURCE: total=N new=N "
                    "duplicates=N failed=N'.",
    )
    imp.add_argument("source", help="a source name from [sources.NAME] in the config")
    imp.add_argument("file", type=Path, help="the JSON file")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    _common(imp)

    retry = sub.add_parser(
        "retry", help="re-queue failed downloads and fetch them again",
        description="Move failed downloads (of SOURCE, or of every source) back to the queue "
                    "with a fresh attempt budget, fetch them in this process (safe beside a "
                    "running daemon), and print 'retry SOURCE: total=N new=N duplicates=N "
                    "failed=N' per source. With --no-download the running daemon fetches them.",
    )
    retry.add_argument("source", nargs="?", help="a source name (default: every source)")
    retry.add_argument("--code", action="append", metavar="CODE",
                       help="only failures with this error code (repeatable): not_found, http_error, "
                            "network, checksum, corrupt, storage, parse_error")
    retry.add_argument("--no-download", action="store_true",
                       help="only re-queue; the daemon downloads them at its next poll")
    _common(retry)

    stats = sub.add_parser(
        "stats", help="totals per source: items, success rate, runs, bytes, library folders",
        description="Print per source: items (downloaded, failed, waiting), success rate, runs "
                    "(sessions) by trigger, bytes downloaded, the last download, failures by "
                    "code, and library folder statistics (files recorded and on disk, size, "
                    "largest top-level folders).",
    )
    stats.add_argument("source", nargs="?", help="a source name (default: every source)")
    _common(stats)

    probe = sub.add_parser(
        "check-source", help="sign in and make one listing call to a source; exit 0 ok, 1 failed",
        description="Connect to SOURCE as a scheduled run would: sign in where it has a login, make "
                    "one listing call (a sky camera: fetch its newest image), and print one line: "
                    "what it found and how long it took. Exit 0 when it answered, 1 when it did "
                    "not (the reason on the line), 2 for an unknown source. Nothing is stored.")
    probe.add_argument("source", help="a source name from [sources.NAME] in the config")
    probe.add_argument("--timeout-s", type=float, default=60.0, metavar="S",
                       help="give up after S seconds (60)")
    _common(probe)

    check = sub.add_parser("check-config", help="validate the config file and exit (0 ok, 2 invalid)",
                           description="Validate the config; print the reason and exit 2 if invalid.")
    _common(check)

    backup = sub.add_parser(
        "backup", help="an online, verified copy of the database (safe while the daemon runs)",
        description="Copy the database to DEST (a file, or a folder for harvest-<UTC time>.db) "
                    "with VACUUM INTO while the daemon keeps running, check the copy with PRAGMA "
                    "integrity_check, and only then give it its name. Prints one line: the path, "
                    "its size and the items in it. Restore: README, \"Backups and restores\".")
    backup.add_argument("dest", type=Path, metavar="DEST", help="a new file, or an existing folder")
    _common(backup)

    move = sub.add_parser(
        "migrate-store", help="copy the SQLite store into an empty PostgreSQL database",
        description="Copy items, results, runs, tasks, source state and pauses from the SQLite file "
                    "([store] path) into the PostgreSQL database at --to (migrated to the same schema; "
                    "it must hold no items), in one transaction, checked by counts. Stop the daemon "
                    "first; afterwards set [store] url to the same URL. README, \"Scaling out\".")
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    _common(move)

    for verb, does in (("pause", "stop"), ("resume", "restart")):
        ctl = sub.add_parser(
            verb, help=f"{does} a source's scheduled runs, or every download (kept across restarts)",
            description=f"{verb.capitalize()} SOURCE's scheduled runs, or with --downloads every download. "
                        "Kept in the database: the running daemon follows within 2 s, a restart keeps it; "
                        "the dashboard and `harvestd status` show it.")
        ctl.add_argument("source", nargs="?", metavar="SOURCE", help="a configured source")
        ctl.add_argument("--downloads", action="store_true", help="every download instead of a source")
        _common(ctl)

    geo = sub.add_parser(
        "geo-task", help="satellite chips and a model for bounding boxes (as POST /api/run-model)",
        description="Search scenes (STAC) for each bounding box and temporal step, read chips from "
                    "their COGs, run the model, and print where the rasters are. FILE.json holds "
                    "the body of POST /api/run-model (README, \"Geo model tasks\"). Exit 0 completed, "
                    "1 failed, 2 a bad request, 130 interrupted (carry on with --resume ID).")
    geo.add_argument("file", type=Path, nargs="?", metavar="FILE.json", help="the task request")
    geo.add_argument("--resume", type=int, metavar="ID", help="carry on with an unfinished geo task")
    geo.add_argument("--no-progress", action="store_true", help="no progress bars (they need a terminal)")
    _common(geo)

    status = sub.add_parser("status", help="counts per status, recent runs and errors, from the DB",
                            description="Print item and result counts per status, the last runs "
                                        "and the last errors, read from the database.")
    status.add_argument("--errors", type=int, default=10, metavar="N", help="last N errors (10)")
    _common(status)
    return parser


def _migrate_store(cfg: Config, url: str) -> int:
    from daemon.store.migrate import migrate_store
    from daemon.store.opening import is_postgres_url

    if not is_postgres_url(url):
        raise InputError(f"--to must be a postgresql:// URL, not {url.split('://', 1)[0]}://")
    if not cfg.db_path.exists():
        raise InputError(f"no SQLite store at {cfg.db_path} ([store] path) to copy")
    counts = asyncio.run(migrate_store(cfg.db_path, url))
    print("copied " + ", ".join(f"{table} {n}" for table, n in counts.items())
          + "; counts checked. Now set [store] url to that URL in the config and start the daemon.")
    return 0


def _load(args: argparse.Namespace) -> tuple[Path, Config]:
    path = find_config(args.config)
    return path, load_config(path)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``harvestd`` / ``python -m daemon``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        path, cfg = _load(args)
    except ConfigError as exc:
        print(f"harvestd: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "check-config":
        from daemon.checks import check_config

        return check_config(path, cfg)
    # under the progress bars only warnings and errors are logged, unless --log-level asks
    quiet = "warning" if _shows_progress(args) and args.log_level is None else None
    configure_logging(args.log_level or quiet or cfg.daemon.log_level, args.log_format)
    register_config_secrets(cfg)
    set_node_name(cfg.daemon.node_name)
    # a damaged database is one line before any work (the daemon logs it as startup_failed)
    if args.command != "run" and cfg.store.url is None and cfg.db_path.exists():
        from daemon.store.damage import StoreDamaged, check_database

        try:
            check_database(cfg.db_path)
        except StoreDamaged as exc:
            print(f"harvestd {args.command}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    try:
        return _dispatch(args, path, cfg)
    except InputError as exc:  # the request was wrong (a range, a source name): exit 2
        print(f"harvestd {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HarvestdError as exc:  # a remote, the store, the library: one line, exit 1
        print(f"harvestd {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, path: Path, cfg: Config) -> int:
    """Run the command; a harvestd error it raises is turned into one line by :func:`main`."""
    if args.command == "check-source":
        from daemon.checks import check_source

        return check_source(cfg, args.source, args.timeout_s)
    if args.command == "run":
        return _run(path, cfg)
    if args.command in ("backfill", "import"):
        return _backfill(cfg, args)
    if args.command == "retry":
        return _retry(cfg, args)
    if args.command == "stats":
        return _stats(cfg, args.source)
    if args.command == "backup":
        return _backup(cfg, args.dest)
    if args.command in ("pause", "resume"):
        return _control(cfg, args)
    if args.command == "migrate-store":
        return _migrate_store(cfg, args.to)
    if args.command == "geo-task":
        from daemon.geo.cli import run_geo_task

        if (args.file is None) == (args.resume is None):
            raise InputError("give FILE.json or --resume ID (one of them)")
        return run_geo_task(cfg, args.file, args.resume, not args.no_progress and sys.stderr.isatty())
    from daemon.status_report import print_status

    if not _has_database(cfg):
        return EXIT_FAILURE
    return print_status(cfg, args.errors)


def _control(cfg: Config, args: argparse.Namespace) -> int:
    from daemon.store import open_configured
    from daemon.store.web import DOWNLOADS, source_scope

    if args.downloads == bool(args.source):
        raise InputError("give SOURCE or --downloads (one of them)")
    if args.source and args.source not in cfg.sources:
        known = ", ".join(sorted(cfg.sources)) or "none"
        raise InputError(f"unknown source {args.source!r} (configured: {known})")
    scope = DOWNLOADS if args.downloads else source_scope(args.source)

    async def main_async() -> bool:
        async with open_configured(cfg) as store:
            return await store.set_paused(scope, args.command == "pause", "cli")

    changed = asyncio.run(main_async())
    what = "downloads" if args.downloads else f"source {args.source}"
    state = "paused" if args.command == "pause" else "running"
    print(f"{what}: {state}" + ("" if changed else " (it already was)"), flush=True)
    return EXIT_OK


def _backup(cfg: Config, dest: Path) -> int:
    from daemon.store.backup import backup_database

    if cfg.store.url is not None:
        raise InputError("the store is PostgreSQL ([store] url): back it up with pg_dump "
                         "(README, \"Scaling out\"); harvestd backup copies a SQLite store")
    if not _has_database(cfg):
        return EXIT_FAILURE
    made = backup_database(cfg.db_path, dest, cfg.store.busy_timeout_ms)  # BackupError: main's one line
    print(f"backup {made.path}: {made.size_bytes} bytes, {made.items} items, integrity ok "
          f"({made.seconds:.1f} s)", flush=True)
    return EXIT_OK


def _run(path: Path, cfg: Config) -> int:
    from daemon.runtime import Daemon

    async def main_async() -> int:
        return await Daemon(path, cfg).run()

    return asyncio.run(main_async())


def _backfill(cfg: Config, args: argparse.Namespace) -> int:
    from daemon.backfill import BackfillError, collect_file_specs, open_listing, run_backfill, summary_line
    from daemon.console import BackfillConsole
    from daemon.sources.base import Found
    from daemon.store.models import NewItem

    log = structlog.get_logger("daemon.backfill")

    async def main_async() -> int:
        try:
            async with contextlib.AsyncExitStack() as stack:
                listing: AsyncIterator[Found] | list[NewItem]
                if args.command == "import":
                    listing = await collect_file_specs(cfg, args.source, args.file)
                else:  # read as it is consumed; a wrong request fails before anything opens
                    if args.full and (args.since or args.until):
                        raise BackfillError("--full walks everything: leave out --since/--until")
                    if args.mission is not None and (args.full or args.since or args.until):
                        raise BackfillError("--mission takes one mission: leave out --since/--until/--full")
                    listing = await stack.enter_async_context(
                        open_listing(cfg, args.source, args.since, args.until, args.mission))
                return await take(listing)
        except InputError as exc:  # a wrong request: exit 2
            print(f"harvestd {args.command}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except HarvestdError as exc:  # the remote refused or failed: one line, no traceback
            print(f"harvestd {args.command}: {args.source}: {exc}", file=sys.stderr)
            return EXIT_FAILURE

    async def take(listing: AsyncIterator[Found] | list[NewItem]) -> int:
        console = BackfillConsole(args.command) if _shows_progress(args) else None
        try:
            with console or contextlib.nullcontext():
                counts, interrupted = await run_backfill(
                    cfg, args.source, listing, on_progress=console.update if console else None,
                    trigger=args.command)
        except BackfillError as exc:  # e.g. the library is full: one line, exit 1
            print(f"harvestd {args.command}: {args.source}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        print(summary_line(args.source, counts, args.command), flush=True)
        if interrupted:
            log.warning("backfill_interrupted", source=args.source,
                        detail="run the same command again to complete the range")
            return EXIT_INTERRUPTED
        return EXIT_OK

    try:
        return asyncio.run(main_async())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # e.g. the database cannot be opened: one clear line, exit 1
        log.critical("backfill_failed", source=args.source, reason=f"{type(exc).__name__}: {exc}",
                     exc_info=True)
        return EXIT_FAILURE


def _shows_progress(args: argparse.Namespace) -> bool:
    """A backfill or import on a terminal shows its progress bars (unless ``--no-progress``)."""
    return args.command in ("backfill", "import") and not args.no_progress and sys.stderr.isatty()


def _has_database(cfg: Config) -> bool:
    """False (and the reason on stderr) when the daemon has not created its database yet (a
    PostgreSQL store is there: connecting says otherwise)."""
    if cfg.store.url is not None or cfg.db_path.exists():
        return True
    print(f"no database at {cfg.db_path} yet (has the daemon run?)", file=sys.stderr)
    return False


def _retry(cfg: Config, args: argparse.Namespace) -> int:
    from daemon.backfill import summary_line
    from daemon.reports import requeue_failed, retry_downloads

    if not _has_database(cfg):
        return EXIT_FAILURE

    async def main_async() -> int:
        requeued = await requeue_failed(cfg, args.source, args.code)  # BackfillError: main, exit 2
        if not requeued:
            print(f"retry {args.source or 'all sources'}: nothing failed", flush=True)
            return EXIT_OK
        if args.no_download:
            for name, specs in requeued.items():
                print(f"retry {name}: requeued={len(specs)}", flush=True)
            return EXIT_OK
        for name, counts in (await retry_downloads(cfg, requeued)).items():
            print(summary_line(name, counts, "retry"), flush=True)
        return EXIT_OK

    try:
        return asyncio.run(main_async())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _stats(cfg: Config, source: str | None) -> int:
    from daemon.reports import collect_stats

    if not _has_database(cfg):
        return EXIT_FAILURE
    lines = asyncio.run(collect_stats(cfg, source))  # BackfillError (unknown source): main, exit 2
    print(f"database {cfg.db_path}; library {cfg.library.root}")
    print("\n".join(lines))
    return EXIT_OK
