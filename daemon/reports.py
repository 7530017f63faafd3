"""``harvestd retry`` and ``harvestd stats``: re-queue failed downloads; totals per source.

``retry`` (the seed's ``--retry``) moves failed items back to the queue with a fresh attempt
budget and, unless told not to, downloads them in this process as a backfill does (leases
keep it safe beside a running daemon), then prints ``retry SOURCE: total=N new=N
duplicates=N failed=N``. ``stats`` (the seed's ``--stats``) prints, per source: items, the
success rate (done / (done + failed)), runs (sessions) by trigger, bytes, the last
download, failures by code, and folder statistics of the library (files recorded, present
on disk, their size, the largest top-level folders).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from daemon.backfill import run_backfill
from daemon.config.root import Config
from daemon.pipeline import require_source
from daemon.source_health import describe_state, source_states, stale_limits
from daemon.store import NewItem, RunCounts, open_configured
from daemon.store.rows import FailureCountRow, ItemStatsRow, RunStatsRow

TOP_FOLDERS = 5


async def requeue_failed(cfg: Config, source: str | None, codes: list[str] | None,
                         ) -> dict[str, list[NewItem]]:
    """Failed items back to ``discovered`` (fresh attempts), per configured source.

    Raises:
        UnknownSource: ``source`` is not configured.
    """
    if source is not None:
        require_source(source, cfg.sources)
    out: dict[str, list[NewItem]] = {}
    async with open_configured(cfg) as store:
        for row in await store.failed_items(source, codes):
            if row["source"] not in cfg.sources or not row["url"] or not row["path"]:
                continue  # uploads and items of removed sources cannot be fetched again
            captured = datetime.fromisoformat(row["captured_at"]) if row["captured_at"] else datetime.now(UTC)
            out.setdefault(row["source"], []).append(
                NewItem(row["key"], row["url"], captured, row["path"], checksum=row["checksum"]))
        for name, specs in out.items():
            await store.requeue_items(name, [s.key for s in specs])
    return out


async def retry_downloads(cfg: Config, requeued: dict[str, list[NewItem]]) -> dict[str, RunCounts]:
    """Download what :func:`requeue_failed` put back, one source after the other."""
    results: dict[str, RunCounts] = {}
    for name, specs in requeued.items():
        counts, interrupted = await run_backfill(cfg, name, specs, trigger="retry")
        results[name] = counts
        if interrupted:
            break
    return results


@dataclass
class FolderStats:
    """Files of one source in the library: recorded, present on disk, bytes, top folders."""

    recorded: int = 0
    on_disk: int = 0
    size_bytes: int = 0
    top_folders: Counter[str] = field(default_factory=Counter)


def folder_stats(root: Path, paths: list[str]) -> FolderStats:
    """Stat every recorded path (blocking: run in a thread). Absolute paths (files kept on a
    fallback root) are taken as they are."""
    stats = FolderStats(recorded=len(paths))
    for rel in paths:
        path = Path(rel) if rel.startswith("/") else root / rel
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        stats.on_disk += 1
        stats.size_bytes += size
        parts = PurePosixPath(rel).parts
        stats.top_folders[parts[0] if len(parts) > 1 else "."] += 1
    return stats


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / (1 << 20):.1f} MiB"


def stats_lines(row: ItemStatsRow, runs: list[RunStatsRow], failures: list[FailureCountRow],
                folders: FolderStats, kind: str) -> list[str]:
    """The ``harvestd stats`` block of one source."""
    done, failed = int(row["done"] or 0), int(row["failed"] or 0)
    rate = f"{100 * done / (done + failed):.1f}%" if done + failed else "n/a"
    by_trigger = ", ".join(f"{r['trigger']} {r['runs']}" for r in runs) or "none"
    n_runs = sum(int(r["runs"]) for r in runs)
    failed_runs = sum(int(r["failed"] or 0) for r in runs)
    last_run = max((r["last_started"] for r in runs if r["last_started"]), default=None) or "never"
    codes = ", ".join(f"{f['code']} {f['n']}" for f in failures) or "none"
    top = ", ".join(f"{name} {n}" for name, n in folders.top_folders.most_common(TOP_FOLDERS)) or "-"
    return [
        f"{row['source']} ({kind})",
        f"  items: {row['items']} total, {done} downloaded, {failed} failed, {row['waiting']} waiting;"
        f" success rate {rate}",
        f"  downloaded: {_mib(int(row['bytes'] or 0))}; last download {row['last_download'] or 'never'}",
        f"  runs (sessions): {n_runs} ({by_trigger}), {failed_runs} failed; last started {last_run}",
        f"  failures by code: {codes}",
        f"  library folders: {folders.recorded} files recorded, {folders.on_disk} on disk"
        f" ({_mib(folders.size_bytes)}); top folders: {top}",
    ]


async def collect_stats(cfg: Config, source: str | None) -> list[str]:
    """Every line ``harvestd stats [SOURCE]`` prints.

    Raises:
        UnknownSource: ``source`` is not configured and has no items either.
    """
    lines: list[str] = []
    async with open_configured(cfg) as store:
        items = await store.item_stats(source)
        if source is not None and not items:
            require_source(source, cfg.sources)
        if not items:
            items = [{"source": source or "-", "items": 0, "done": 0, "failed": 0, "waiting": 0,
                      "bytes": 0, "last_download": None}]
        runs = await store.run_stats(source)
        failures = await store.failure_codes(source)
        health = await source_states(store, stale_limits(cfg.sources))
        for row in items:
            name = row["source"]
            paths = await store.item_paths(name)
            folders = await asyncio.to_thread(folder_stats, cfg.library.root, paths)
            kind = cfg.sources[name].kind if name in cfg.sources else "not configured"
            lines += stats_lines(row, [r for r in runs if r["source"] == name],
                                 [f for f in failures if f["source"] == name], folders, kind)
            if name in health:
                lines.append("  health: " + describe_state(health[name]))
    return lines
