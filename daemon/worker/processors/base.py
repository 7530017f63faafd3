"""The processor interface and the registry building processors from config."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from daemon.config import Config, ProcessorConfig
from daemon.config_vegetation import VegetationConfig
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


def build_processor(name: str, config: ProcessorConfig | VegetationConfig) -> Processor:
    """One processor instance (loads its ONNX session: blocking, call in a thread)."""
    if isinstance(config, VegetationConfig):
        from daemon.worker.processors.vegetation import VegetationProcessor

        return VegetationProcessor(name, config)
    from daemon.worker.processors.octas import OctasProcessor

    return OctasProcessor(name, config)


def build_processors(cfg: Config, previous: Mapping[str, Processor] | None = None,
                     previous_cfg: Config | None = None) -> dict[str, Processor]:
    """Every processor the sources use, reusing ``previous`` ones whose config is unchanged."""
    names = ({p for src in cfg.sources.values() for p in src.processors} | set(cfg.processors)
             | set(cfg.uploads.processors))
    built: dict[str, Processor] = {}
    for name in sorted(names):
        if previous and previous_cfg and name in previous and (
            previous_cfg.processor(name) == cfg.processor(name)
        ):
            built[name] = previous[name]
        else:
            built[name] = build_processor(name, cfg.processor(name))
    return built
