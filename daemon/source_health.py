"""Is each source harvesting? The answer every operator surface shares (``/api/health``,
``harvestd status``, ``harvestd stats``, the journal).

A source is **failing** when at least :data:`FAILING_AFTER` of its items failed or wait to
be retried since its last success (an unreachable host, a 404 for everything, a refused
key): one missing image (a camera gap) is not an outage, three in a row are. A source with
``stale_after_s`` set is also failing (``stale``) when nothing of it was downloaded for
longer than that (a page layout that changed: no failures, no new items either). The daemon
logs the transitions once each: ``source_failing`` at warning (with the latest error),
``source_recovered`` at info.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from daemon.store import Store
from daemon.store.rows import SourceHealthRow

log = structlog.get_logger("daemon.health")
FAILING_AFTER = 3  # consecutive problems (final failures + items waiting to retry)


def assess(row: SourceHealthRow, stale_after_s: float | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """One row of :meth:`Store.source_health` → ``{"ok", "state", "reason", …}``.

    ``state`` is ``ok``, ``retrying`` (fewer problems than the threshold), ``failing``, or
    ``stale`` (nothing downloaded for more than ``stale_after_s`` seconds, failures or not).
    """
    problems = int(row["failed"] or 0) + int(row["retrying"] or 0)
    out: dict[str, Any] = {
        "last_success_at": row["last_success_at"], "failed_since_success": int(row["failed"] or 0),
        "retrying": int(row["retrying"] or 0), "next_attempt_at": _iso(row["next_attempt_at"]),
        "last_error_code": row["last_error_code"], "last_error": row["last_error"],
        "failing_since": row["failing_since"],
    }
    age_s = _age_s(row["last_success_at"], now)
    out["last_success_age_s"] = None if age_s is None else round(age_s)
    if stale_after_s is not None and age_s is not None and age_s > stale_after_s and problems < FAILING_AFTER:
        reason = (f"nothing downloaded for {age_s / 3600:.1f} h (since {row['last_success_at']}; "
                  f"stale_after_s = {stale_after_s:g})")
        return {"ok": False, "state": "stale", "reason": reason, **out}
    if problems >= FAILING_AFTER:
        since = row["last_success_at"] or "it started"
        reason = (f"{problems} items failed or wait to be retried since the last success ({since}); "
                  f"latest error [{row['last_error_code']}] {row['last_error']}")
        return {"ok": False, "state": "failing", "reason": reason[:500], **out}
    return {"ok": True, "state": "retrying" if problems else "ok", **out}


def _age_s(iso: str | None, now: datetime | None) -> float | None:
    if not iso:
        return None
    when = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - when).total_seconds()


def _iso(unix_s: float | None) -> str | None:
    if unix_s is None:
        return None
    return datetime.fromtimestamp(float(unix_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def source_states(store: Store, stale_after_s: Mapping[str, float | None] | None = None
                        ) -> dict[str, dict[str, Any]]:
    """Every source with items: name → :func:`assess` of its row (``stale_after_s``: each
    source's setting, by name)."""
    limits = stale_after_s or {}
    return {row["source"]: assess(row, limits.get(row["source"])) for row in await store.source_health()}


def stale_limits(sources: Mapping[str, Any]) -> dict[str, float | None]:
    """``stale_after_s`` of each configured source (config models or :class:`Source` objects)."""
    out: dict[str, float | None] = {}
    for name, source in sources.items():
        config = getattr(source, "config", source)
        out[name] = getattr(config, "stale_after_s", None)
    return out


class SourceWatch:
    """Logs each source's ok ↔ failing transitions once (call :meth:`check` periodically)."""

    def __init__(self) -> None:
        self.failing: dict[str, str] = {}  # source → failing_since

    async def check(self, store: Store, stale_after_s: Mapping[str, float | None] | None = None
                    ) -> dict[str, dict[str, Any]]:
        """Assess every source and log what changed since the last call; returns the states."""
        states = await source_states(store, stale_after_s)
        for name, state in states.items():
            if not state["ok"] and name not in self.failing:
                self.failing[name] = state["failing_since"] or state["last_success_at"] or ""
                log.warning("source_failing", source=name, state=state["state"], reason=state["reason"],
                            since=state["failing_since"],
                            last_success_at=state["last_success_at"], error_code=state["last_error_code"],
                            error=state["last_error"], failed=state["failed_since_success"],
                            retrying=state["retrying"])
            elif state["ok"] and name in self.failing:
                since = self.failing.pop(name)
                log.info("source_recovered", source=name, failing_since=since,
                         last_success_at=state["last_success_at"])
        return states


def describe(name: str, state: dict[str, Any]) -> str:
    """One line for ``harvestd status``: ``NAME: `` and :func:`describe_state`."""
    return f"{name}: {describe_state(state)}"


def describe_state(state: dict[str, Any]) -> str:
    """The state of one :func:`assess`, its numbers and the latest error, in words."""
    if state["state"] == "ok":
        return f"ok; last success {state['last_success_at'] or 'never'}"
    if state["state"] == "stale":
        return f"STALE: {state['reason']}"
    waiting = (f"{state['retrying']} waiting to retry (next attempt {state['next_attempt_at']})"
               if state["retrying"] else "none waiting to retry")
    head = f"FAILING since {state['failing_since']}" if state["state"] == "failing" else "retrying"
    return (f"{head}; last success {state['last_success_at'] or 'never'}; "
            f"{state['failed_since_success']} failed since, {waiting}; "
            f"latest error [{state['last_error_code']}] {state['last_error']}")
