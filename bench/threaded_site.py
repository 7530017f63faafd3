"""An imitation site served from its own thread and event loop, so a benchmark's client loop
and the server never share one (the server's latency is then a real wait, not a stall).
The helper lives in ``tests/procs.py`` (the dashboard's browser tests use it too)."""

from __future__ import annotations

from tests.procs import serve_in_thread

__all__ = ["serve_in_thread"]
