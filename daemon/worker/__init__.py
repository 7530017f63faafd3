"""The DB-polling image worker and its processors."""

from daemon.worker.worker import Worker

__all__ = ["Worker"]
