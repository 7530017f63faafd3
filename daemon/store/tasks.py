"""Task queries (HTTP API tasks): create, read, page, advance; re-running a model's results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from daemon.store.base import StoreBase
from daemon.store.dialect import SqlList
from daemon.store.models import utc_now_iso

OPEN_STAGES = ("queued", "acquiring", "processing", "data_processing", "model_prediction")
JSON_COLUMNS = ("params", "follow", "plan", "detail")
BULKY = ("follow", "plan", "lease_owner", "lease_until")  # internal: not shown by the API


def _task(row: Any) -> dict[str, Any]:
    task = dict(row)
    for name in JSON_COLUMNS:
        task[name] = json.loads(task[name])
    return task


def _shown(task: dict[str, Any]) -> dict[str, Any]:
    for name in BULKY:
        task.pop(name, None)
    return task


class TaskQueries(StoreBase):
    """Rows of ``tasks``; a task is advanced only by the daemon's task runner."""

    async def create_task(self, kind: str, params: dict[str, Any], stage: str = "queued",
                          lease_owner: str | None = None, lease_s: float = 60.0) -> int:
        """A new task (``queued`` unless ``stage`` says otherwise), leased to ``lease_owner``
        for ``lease_s`` seconds when given (no other process can take it first); returns its id."""
        now = utc_now_iso()
        until = time.time() + lease_s if lease_owner else None
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO tasks (kind, params, stage, created_at, updated_at, lease_owner, lease_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (kind, json.dumps(params, sort_keys=True), stage, now, now, lease_owner, until),
            )
            return int((await cur.fetchone())[0])

    async def get_task(self, task_id: int, with_follow: bool = False) -> dict[str, Any] | None:
        """One task (``follow``, ``plan`` and the lease only on request: they can be long), or
        None."""
        rows = await self._read("SELECT * FROM tasks WHERE id = ?", (task_id,))
        if not rows:
            return None
        task = _task(rows[0])
        return task if with_follow else _shown(task)

    async def list_tasks(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Newest first, one page; returns (tasks without ``follow``, total count)."""
        rows = await self._read("SELECT * FROM tasks ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        total = (await self._read("SELECT COUNT(*) FROM tasks"))[0][0]
        return [_shown(_task(r)) for r in rows], int(total)

    async def open_tasks(self, kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Tasks not finished yet (after a restart too), oldest first; of ``kinds`` if given."""
        sql = f"SELECT * FROM tasks WHERE stage IN ({', '.join('?' for _ in OPEN_STAGES)})"
        params: list[str] = list(OPEN_STAGES)
        if kinds is not None:  # in SQL: another kind's plan is never read and parsed
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        return [_task(r) for r in await self._read(sql + " ORDER BY id", params)]

    async def update_task(self, task_id: int, **fields: Any) -> None:
        """Set ``stage``, ``follow``, ``total``, ``done``, ``failed``, ``error``, ``plan`` or
        ``detail``."""
        allowed = {"stage", "follow", "total", "done", "failed", "error", "plan", "detail"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"cannot update {sorted(set(fields) - allowed)}")
        values = {k: json.dumps(v, sort_keys=True) if k in JSON_COLUMNS else v for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        async with self._tx() as db:
            await db.execute(f"UPDATE tasks SET {sets}, updated_at = ? WHERE id = ?",
                             (*values.values(), utc_now_iso(), task_id))

    async def lease_task(self, task_id: int, owner: str, lease_s: float,
                         is_dead: Callable[[str], bool] | None = None) -> bool:
        """Take (or renew) the lease on an open task for ``lease_s`` seconds: True when
        ``owner`` holds it now, False when another owner's lease has not expired (that
        process is advancing the task) — unless ``is_dead(that owner)`` says its process is
        gone (a daemon killed on this host: its task is taken at once, not after expiry)."""
        now = time.time()
        async with self._tx() as db:
            cur = await db.execute("SELECT lease_owner FROM tasks WHERE id = ?", (task_id,))
            row = await cur.fetchone()
            holder = row[0] if row else None
            dead = holder if holder and holder != owner and is_dead is not None and is_dead(holder) else None
            cur = await db.execute(
                "UPDATE tasks SET lease_owner = ?, lease_until = ? WHERE id = ?"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_owner = ? OR lease_until < ?)",
                (owner, now + lease_s, task_id, owner, dead, now))
            return bool(cur.rowcount)

    async def release_task(self, task_id: int, owner: str) -> None:
        """Give the lease up (at stop, or once the task is finished)."""
        async with self._tx() as db:
            await db.execute("UPDATE tasks SET lease_owner = NULL, lease_until = NULL"
                             " WHERE id = ? AND lease_owner = ?", (task_id, owner))

    async def requeue_results(self, processor: str, source: str | None = None,
                              keys: Sequence[str] | None = None) -> list[int]:
        """Run ``processor`` again on finished results (of ``source`` / ``keys`` if given);
        returns the result ids put back to ``pending``."""
        sql = ("UPDATE results SET status = 'pending', attempts = 0, error = NULL, updated_at = ?"
               " WHERE processor = ? AND status IN ('completed', 'failed')")
        params: list[Any] = [utc_now_iso(), processor]
        if source is not None or keys is not None:
            sql += " AND item_id IN (SELECT id FROM items WHERE true"
            if source is not None:
                sql += " AND source = ?"
                params.append(source)
            if keys is not None:
                sql += " AND key IN (SELECT value FROM json_each(?))"
                params.append(SqlList(keys))
            sql += ")"
        async with self._tx() as db:
            cur = await db.execute(sql + " RETURNING id", params)
            ids = sorted(r[0] for r in await cur.fetchall())
            if ids:
                await self._notify(db, "results")
            return ids

    async def result_states(self, result_ids: Sequence[int]) -> dict[int, str]:
        """``result id → status`` for the given ids."""
        rows = await self._read("SELECT id, status FROM results WHERE id IN (SELECT value FROM json_each(?))",
                                (SqlList(result_ids),))
        return {r[0]: r[1] for r in rows}
