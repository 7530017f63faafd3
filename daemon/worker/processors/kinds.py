"""Processor kinds: ``kind`` → its config model (the table ``[processors.NAME]``).

Config only (no model is loaded here), so the root config can validate processor tables
without importing onnxruntime; :mod:`daemon.worker.processors.build` makes the processors.
A table without ``kind`` takes its name as the kind; ``octas`` and ``vegetation`` can be
named by a source without a table (their defaults apply).
"""

from __future__ import annotations

from pydantic import BaseModel

from daemon.worker.processors.octas_config import OctasConfig
from daemon.worker.processors.vegetation_config import VegetationConfig

ProcessorSettings = OctasConfig | VegetationConfig
CONFIGS: dict[str, type[OctasConfig] | type[VegetationConfig]] = {
    "octas": OctasConfig,
    "vegetation": VegetationConfig,
}
BUILTIN = ("octas", "vegetation")  # usable without a [processors.NAME] table


def config_model(kind: str) -> type[BaseModel] | None:
    """The config model of processor ``kind`` (None: unknown)."""
    return CONFIGS.get(kind)


def kinds() -> list[str]:
    """Every processor kind, sorted."""
    return sorted(CONFIGS)


def default_config(name: str) -> ProcessorSettings:
    """The defaults of a built-in processor named without a table (octas for any other name)."""
    return VegetationConfig(kind="vegetation") if name == "vegetation" else OctasConfig(kind="octas")
