"""Building processors from their configs (loads ONNX sessions: blocking, call in a thread)."""

from __future__ import annotations

from collections.abc import Mapping

from daemon.worker.processors.base import Processor
from daemon.worker.processors.kinds import ProcessorSettings
from daemon.worker.processors.octas import OctasProcessor
from daemon.worker.processors.vegetation import VegetationProcessor
from daemon.worker.processors.vegetation_config import VegetationConfig


def build_processor(name: str, config: ProcessorSettings) -> Processor:
    """One processor instance (loads its ONNX session: blocking, call in a thread)."""
    if isinstance(config, VegetationConfig):
        return VegetationProcessor(name, config)
    return OctasProcessor(name, config)


def build_processors(wanted: Mapping[str, ProcessorSettings], previous: Mapping[str, Processor] | None = None,
                     previous_wanted: Mapping[str, ProcessorSettings] | None = None) -> dict[str, Processor]:
    """A processor for each name of ``wanted`` (name → its config), reusing a ``previous``
    one whose config in ``previous_wanted`` is unchanged."""
    built: dict[str, Processor] = {}
    for name in sorted(wanted):
        config = wanted[name]
        if previous and previous_wanted and name in previous and previous_wanted.get(name) == config:
            built[name] = previous[name]
        else:
            built[name] = build_processor(name, config)
    return built
