"""Is each source harvesting? The answer every operator surface shares (``/api/health``,
``harvestd status``, ``harvestd stats``, the journal).

A source is **failing** when at least :data:`FAILING_AFTER` of its items failed or wait to
be retried since its last success (an unreachable host, a 404 for everything, a refused
key): one missing image (a camera gap) is not an outage, three in a row are. The daemon
logs the transitions once each: ``source_failing`` at warning (with the latest error),
``source_recovered`` at info.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from daemon.store import Store

log = structlog.get_logger("daemon.health")
FAILING_AFTER = 3  # consecutive problems (final failures + items waiting to retry)


def assess(row: dict[str, Any]) -> dict[str, Any]:
    """One row of :meth:`Store.source_health` → ``{"ok", "state", "reason", …}``.

    ``state`` is ``ok``, ``retrying`` (fewer problems than the threshold) or ``failing``.
    """
    problems = int(row["failed"] or 0) + int(row["retrying"] or 0)
    out: dict[str, Any] = {
        "last_success_at": row["last_success_at"], "failed_since_success": int(row["failed"] or 0),
        "retrying": int(row["retrying"] or 0), "next_attempt_at": _iso(row["next_attempt_at"]),
        "last_error_code": row["last_error_code"], "last_error": row["last_error"],
        "failing_since": row["failing_since"],
    }
    if problems >= FAILING_AFTER:
        since = row["last_success_at"] or "it started"
        reason = (f"{problems} items failed or wait to be retried since the last success ({since}); "
                  f"latest error [{row['last_error_code']}] {row['last_error']}")
        return {"ok": False, "state": "failing", "reason": reason[:500], **out}
    return {"ok": True, "state": "retrying" if problems else "ok", **out}


def _iso(unix_s: float | None) -> str | None:
    if unix_s is None:
        return None
    return datetime.fromtimestamp(float(unix_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def source_states(store: Store) -> dict[str, dict[str, Any]]:
    """Every source with items: name → :func:`assess` of its row."""
    return {row["source"]: assess(row) for row in await store.source_health()}


class SourceWatch:
    """Logs each source's ok ↔ failing transitions once (call :meth:`check` periodically)."""

    def __init__(self) -> None:
        self.failing: dict[str, str] = {}  # source → failing_since

    async def check(self, store: Store) -> dict[str, dict[str, Any]]:
        """Assess every source and log what changed since the last call; returns the states."""
        states = await source_states(store)
        for name, state in states.items():
            if state["state"] == "failing" and name not in self.failing:
                self.failing[name] = state["failing_since"] or ""
                log.warning("source_failing", source=name, since=state["failing_since"],
                            last_success_at=state["last_success_at"], error_code=state["last_error_code"],
                            error=state["last_error"], failed=state["failed_since_success"],
                            retrying=state["retrying"])
            elif state["state"] != "failing" and name in self.failing:
                since = self.failing.pop(name)
                log.info("source_recovered", source=name, failing_since=since,
                         last_success_at=state["last_success_at"])
        return states


def describe(name: str, state: dict[str, Any]) -> str:
    """One line for ``harvestd status`` / ``stats``: the state, its numbers and the latest error."""
    if state["state"] == "ok":
        return f"{name}: ok; last success {state['last_success_at'] or 'never'}"
    waiting = (f"{state['retrying']} waiting to retry (next attempt {state['next_attempt_at']})"
               if state["retrying"] else "none waiting to retry")
    head = f"{name}: FAILING since {state['failing_since']}" if state["state"] == "failing" else \
        f"{name}: retrying"
    return (f"{head}; last success {state['last_success_at'] or 'never'}; "
            f"{state['failed_since_success']} failed since, {waiting}; "
            f"latest error [{state['last_error_code']}] {state['last_error']}")
