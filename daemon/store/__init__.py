"""The store: items, results, runs and tasks in SQLite (the default, :mod:`daemon.store.sqlite`)
or PostgreSQL (:mod:`daemon.store.postgres`), behind one interface (:class:`Store`)."""

from daemon.store.damage import StoreDamaged
from daemon.store.models import ClaimedResult, Downloaded, Item, NewItem, ResultOutput, RunCounts, Transfer
from daemon.store.opening import open_configured, open_store
from daemon.store.sqlite import SqliteStore
from daemon.store.store import Store

__all__ = ["ClaimedResult", "Downloaded", "Item", "NewItem", "ResultOutput", "RunCounts", "SqliteStore",
           "Store", "StoreDamaged", "Transfer", "open_configured", "open_store"]
