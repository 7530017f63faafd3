"""N daemons on one store: each node's heartbeat, what its leases hold, and which node takes
a source's scheduled run."""

from __future__ import annotations

import time
from typing import Any

from daemon.store.base import StoreBase
from daemon.store.models import utc_now_iso


class NodeQueries(StoreBase):
    """Rows of ``nodes`` and ``schedule_claims`` (migration 0013)."""

    async def heartbeat(self, name: str, host: str, pid: int, version: str, started_at: str) -> None:
        """Node ``name`` is alive now (inserted at its first beat; ``stopped_at`` cleared)."""
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO nodes (name, host, pid, version, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                " version = excluded.version, started_at = excluded.started_at,"
                " seen_at = excluded.seen_at, stopped_at = NULL",
                (name, host, pid, version, started_at, time.time()))

    async def node_stopped(self, name: str, pid: int) -> None:
        """Node ``name`` (process ``pid``) stopped cleanly."""
        async with self._tx() as db:
            await db.execute("UPDATE nodes SET stopped_at = ? WHERE name = ? AND pid = ?",
                             (utc_now_iso(), name, pid))

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node that ever beat: name, host, pid, version, started_at, seen_at (Unix s),
        age_s (since its last beat), stopped_at, and the leases it holds now (``downloading``
        items, ``processing`` results, open tasks), by lease owner prefix ``name:``."""
        rows = await self._read(
            "SELECT n.*,"
            " (SELECT COUNT(*) FROM items i WHERE i.status = 'downloading'"
            "  AND i.lease_owner >= n.name || ':' AND i.lease_owner < n.name || ';') AS downloading,"
            " (SELECT COUNT(*) FROM results r WHERE r.status = 'processing'"
            "  AND r.lease_owner >= n.name || ':' AND r.lease_owner < n.name || ';') AS processing,"
            " (SELECT COUNT(*) FROM tasks t WHERE t.lease_owner >= n.name || ':'"
            "  AND t.lease_owner < n.name || ';') AS tasks"
            " FROM nodes n ORDER BY n.name")
        now = time.time()
        return [{**dict(r), "age_s": round(now - float(r["seen_at"]), 1)} for r in rows]

    async def claim_schedule(self, source: str, node: str, min_gap_s: float) -> str | None:
        """Take ``source``'s scheduled run for ``node``: None when taken (no other node ran
        it in the last ``min_gap_s`` seconds, or ``node`` itself did), else the node that did
        (this node skips the run). One statement: two nodes firing at once cannot both win."""
        now = time.time()
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO schedule_claims (source, node, claimed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET node = excluded.node, claimed_at = excluded.claimed_at"
                " WHERE schedule_claims.claimed_at < ? OR schedule_claims.node = excluded.node"
                " RETURNING node", (source, node, now, now - min_gap_s))
            if await cur.fetchone() is not None:
                return None
            cur = await db.execute("SELECT node FROM schedule_claims WHERE source = ?", (source,))
            row = await cur.fetchone()
            return str(row[0]) if row else None
