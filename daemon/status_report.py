"""``harvestd status``: the library root, each source's state and pauses, item and result
counts per status, downloads in progress, the last runs and the last errors — read from the
database (the daemon need not run)."""

from __future__ import annotations

import asyncio

from daemon.config.root import Config
from daemon.source_health import describe, source_states, stale_limits
from daemon.store import open_configured


def _library_line(cfg: Config) -> str:
    from daemon.library.root import root_problem

    lib, staging = cfg.library, cfg.downloads.staging_dir
    problem = root_problem(lib.root, lib.require_mount, lib.min_free_bytes, staging)
    if problem is None:
        return f"library {lib.root}: ok"
    if lib.fallback_root is not None and root_problem(lib.fallback_root, False, lib.min_free_bytes,
                                                      staging) is None:
        return f"library {lib.root}: {problem}; files go to the fallback {lib.fallback_root}"
    return f"library {lib.root}: {problem}; downloads paused until it is back"


async def _bucket_line(cfg: Config) -> str | None:
    """An S3 library: is the bucket usable now (None for a folder library)."""
    if cfg.library.url is None:
        return None
    from daemon.library.objects import ObjectLibrary

    problem = await ObjectLibrary(cfg.library.url, cfg.library.endpoint_url, cfg.library.region).problem()
    return f"library bucket {cfg.library.url}: " + (problem or "ok") + (
        f"; working copy {cfg.library.root}" if problem is None else "; downloads paused until it answers")


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / (1 << 20):.1f}"


def print_status(cfg: Config, n_errors: int) -> int:
    """Print the report (see the module doc); returns the exit status (0)."""

    async def main_async() -> int:
        async with open_configured(cfg) as store:
            counts = await store.status_counts()
            health = await source_states(store, stale_limits(cfg.sources))
            runs = await store.last_runs(5)
            errors = await store.last_errors(n_errors)
            transfers = await store.transfers(20)
            paused = await store.controls()
            nodes = await store.nodes()
            where = store.where
            bucket = await _bucket_line(cfg)
        print(f"database {where}")
        print(_library_line(cfg))
        if bucket is not None:
            print(bucket)
        if "downloads" in paused:
            how = paused["downloads"]
            print(f"downloads: PAUSED since {how['paused_at']} by {how['paused_by']}"
                  " (harvestd resume --downloads)")
        if nodes:
            print("nodes:")
            for node in nodes:
                beat = (f"stopped {node['stopped_at']}" if node["stopped_at"]
                         else f"last heartbeat {node['age_s']:.0f} s ago"
                         + (" (SILENT)" if node["age_s"] > 3 * cfg.daemon.heartbeat_s else ""))
                print(f"  {node['name']:<16} {node['host']} pid {node['pid']} v{node['version']}: {beat};"
                      f" holds {node['downloading']} downloads, {node['processing']} results,"
                      f" {node['tasks']} tasks")
        print("sources:")
        for name, state in health.items() or {"-": None}.items():
            print(f"  {describe(name, state)}" if state else "  - (no items yet)")
        for scope, how in paused.items():
            if scope.startswith("source:"):
                print(f"  {scope[7:]}: schedule PAUSED since {how['paused_at']} by {how['paused_by']}"
                      f" (harvestd resume {scope[7:]})")
        print("items:")
        for item_row in counts["items"] or [{"source": "-", "status": "-", "n": 0}]:
            print(f"  {item_row['source']:<16} {item_row['status']:<12} {item_row['n']:>8}")
        print("results:")
        for result_row in counts["results"] or [{"source": "-", "processor": "-", "status": "-", "n": 0}]:
            source = result_row["source"] or "-"  # NULL: a result inserted without its source
            print(f"  {source:<16} {result_row['processor']:<10} {result_row['status']:<12} "
                  f"{result_row['n']:>8}")
        if transfers:
            done = sum(t["completed_bytes"] for t in transfers)
            total = sum(t["total_bytes"] for t in transfers)
            speed = sum(t["speed_bps"] for t in transfers)
            print(f"downloading now: {len(transfers)} ({_mib(done)}/{_mib(total)} MiB, {_mib(speed)} MiB/s)")
            for t in transfers:
                print(f"  {t['source']:<16} {t['key']:<24} {t['state']:<8} "
                      f"{_mib(t['completed_bytes'])}/{_mib(t['total_bytes'])} MiB "
                      f"{_mib(t['speed_bps'])} MiB/s connections={t['connections']} ({t['updated_at']})"
                      + (f" on {str(t['owner']).split(':')[0]}" if t.get("owner") else ""))
        print("last runs:")
        for run in runs:
            settled = "settled" if not run["items_waiting"] else f"{run['items_waiting']} still waiting"
            print(f"  #{run['id']} {run['source']} {run['trigger']} {run['started_at']} "
                  f"{run['status']} total={run['total']} new={run['new']} "
                  f"duplicates={run['duplicates']} failed={run['failed']}; its items: "
                  f"{run['items_done']} downloaded, {run['items_failed']} failed, {settled}")
        print("last errors:")
        for err in errors:
            print(f"  {err['updated_at']} {err['source']} key={err['key']} [{err['stage']}] {err['error']}")
        return 0

    return asyncio.run(main_async())
