"""``[processors.NAME]`` with ``kind = "vegetation"``: NDVI/SAVI from multispectral TIFFs.

Band numbers are 1-based layers of the TIFF (``bands = {red = 3, nir = 4}``) or come from a
``preset`` (``shared/reference/models_and_data.md`` §2.2). Reflectance = (DN − black_level) ×
scale. Presets: ``sentinel2`` (B02 B03 B04 B08, ×1/10000), ``micasense_rededge`` and
``micasense_altum`` (stacked 1 Blue 2 Green 3 Red 4 NIR 5 RedEdge, raw 16-bit: relative),
``micasense_atlas`` (Blue Green Red RedEdge NIR, ×1/32768), ``dji_p4m`` (stacked Blue Green
Red RedEdge NIR, DN/65535 after black level 4096), ``parrot_sequoia`` (Green Red RedEdge NIR).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from daemon.config.base import Model

BandName = Literal["blue", "green", "red", "rededge", "nir"]
PRESETS: dict[str, tuple[dict[str, int], float, float]] = {  # bands, scale, black level
    "sentinel2": ({"blue": 1, "green": 2, "red": 3, "nir": 4}, 1 / 10000, 0.0),
    "micasense_rededge": ({"blue": 1, "green": 2, "red": 3, "nir": 4, "rededge": 5}, 1 / 65535, 0.0),
    "micasense_altum": ({"blue": 1, "green": 2, "red": 3, "nir": 4, "rededge": 5}, 1 / 65535, 0.0),
    "micasense_atlas": ({"blue": 1, "green": 2, "red": 3, "rededge": 4, "nir": 5}, 1 / 32768, 0.0),
    "dji_p4m": ({"blue": 1, "green": 2, "red": 3, "rededge": 4, "nir": 5}, 1 / 65535, 4096.0),
    "parrot_sequoia": ({"green": 1, "red": 2, "rededge": 3, "nir": 4}, 1 / 65535, 0.0),
}


class VegetationConfig(Model):
    """Vegetation indices of one image; see the module docstring for bands and presets."""

    kind: Literal["vegetation"]
    preset: Literal["sentinel2", "micasense_rededge", "micasense_altum", "micasense_atlas",
                    "dji_p4m", "parrot_sequoia"] | None = None
    bands: dict[BandName, int] = Field(default_factory=dict)
    scale: float | None = Field(None, gt=0)
    black_level: float | None = Field(None, ge=0)
    savi_l: float = Field(0.5, ge=0, le=1)  # Huete 1988: L = 0.5
    vegetated_ndvi: float = Field(0.3, gt=-1, lt=1)  # NDVI above this counts as vegetated
    write_raster: bool = True  # float32 index TIFF next to the source image
    write_preview: bool = True  # colour-mapped PNG next to the source image

    @model_validator(mode="after")
    def _bands_known(self) -> VegetationConfig:
        if any(b < 1 for b in self.bands.values()):
            raise ValueError("band numbers are 1-based")
        if self.preset is None and self.bands and not {"red", "nir"} <= set(self.bands):
            raise ValueError("bands needs at least red and nir (or a preset)")
        return self

    def resolved(self) -> tuple[dict[str, int], float, float]:
        """(band → 1-based layer, scale, black level): the preset, overridden by explicit keys."""
        bands, scale, black = PRESETS[self.preset] if self.preset else ({}, 1.0, 0.0)
        merged: dict[str, int] = dict(bands)
        merged.update({str(k): v for k, v in self.bands.items()})
        return (merged, self.scale if self.scale is not None else scale,
                self.black_level if self.black_level is not None else black)
