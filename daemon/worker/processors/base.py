"""The processor interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from daemon.store.models import Item, ResultOutput


class Processor(ABC):
    """Turns one downloaded file into one result. ``process`` blocks: run it in the pool."""

    name: str

    @abstractmethod
    def process(self, item: Item, path: Path) -> ResultOutput:
        """Process the file of ``item`` at ``path``.

        Raises:
            Exception: any failure; the worker records ``str(exc)`` as the result's error.
        """
