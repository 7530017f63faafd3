"""Built-in geo models: per-pixel spectral indices of a chip (``model_type`` ndvi, savi,
ndwi). Formulas and sources: :mod:`daemon.index_math`; inputs are Sentinel-2 reflectance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from daemon.index_math import ndvi_savi, ndwi

SAVI_L = 0.5  # Huete 1988's soil factor for intermediate vegetation cover


@dataclass(frozen=True)
class IndexModel:
    """``bands`` in the order ``compute`` takes them; ``compute(*reflectance (H, W) float32)``
    → index ``(H, W)`` float32 (NaN where undefined)."""

    name: str
    bands: tuple[str, ...]
    compute: Callable[..., np.ndarray]


INDICES: dict[str, IndexModel] = {
    "ndvi": IndexModel("ndvi", ("B04", "B08"), lambda red, nir: ndvi_savi(red, nir, SAVI_L)[0]),
    "savi": IndexModel("savi", ("B04", "B08"), lambda red, nir: ndvi_savi(red, nir, SAVI_L)[1]),
    "ndwi": IndexModel("ndwi", ("B03", "B08"), ndwi),
}
