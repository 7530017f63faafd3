"""The store: items, results and runs in SQLite (see :mod:`daemon.store.sqlite`)."""

from daemon.store.damage import StoreDamaged
from daemon.store.models import ClaimedResult, Downloaded, Item, NewItem, ResultOutput, RunCounts, Transfer
from daemon.store.sqlite import Store

__all__ = ["ClaimedResult", "Downloaded", "Item", "NewItem", "ResultOutput", "RunCounts", "Store",
           "StoreDamaged", "Transfer"]
