"""``[geo]`` and ``[models.NAME]``: satellite chips and model predictions for bounding boxes.

``[geo]`` says where scenes are searched (a STAC API per data source), how chips are read
and the caps that keep one task from exhausting the box (a request over a cap is refused
with the reason, HTTP 400). ``[models.NAME]`` declares a user ONNX model: the bands it
takes, their normalisation, its input size and what its output means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from daemon.config.base import Model

EARTH_SEARCH_V1 = "https://earth-search.aws.element84.com/v1"
CMR_STAC_LPCLOUD = "https://cmr.earthdata.nasa.gov/stac/LPCLOUD"


class GeoSettings(Model):
    """``[geo]``.

    ``stac_url`` / ``collection``: the Sentinel-2 L2A search (default Earth Search v1,
    ``sentinel-2-c1-l2a``: ESA digital numbers with a correct ``raster:bands`` offset);
    ``hls_stac_url`` / ``hls_collections``: NASA's CMR-STAC for ``data_source = "HLS"``
    (credentials from ``EARTHDATA_TOKEN``, or ``EARTHDATA_USERNAME`` / ``EARTHDATA_PASSWORD``).
    ``mask_classes``: SCL values masked to nodata (default saturated 1, cloud shadow 3,
    cloud medium/high 8/9, thin cirrus 10 — the Sentinel-2 L2A scene classification).
    Caps: ``max_bbox_km2`` per bounding box, ``max_bboxes``, ``max_chips`` per task (chips ×
    steps), ``max_chip_size`` pixels, ``max_steps``; ``chip_reads`` chips read at once,
    ``max_chip_bytes`` the memory of one chip stack (bands × steps × pixels × 4 bytes).
    ``search_limit``: items per STAC page; ``timeout_s``: per GDAL HTTP request;
    ``edl_token_url``: where Earthdata Login user names and passwords become tokens.
    """

    stac_url: str = EARTH_SEARCH_V1
    collection: str = "sentinel-2-c1-l2a"
    hls_stac_url: str = CMR_STAC_LPCLOUD
    hls_collections: list[str] = Field(default_factory=lambda: ["HLSS30_2.0", "HLSL30_2.0"])
    mask_classes: list[int] = Field(default_factory=lambda: [1, 3, 8, 9, 10])
    max_bbox_km2: float = Field(2_500.0, gt=0)
    max_bboxes: int = Field(16, ge=1, le=1000)
    max_chips: int = Field(2_000, ge=1, le=1_000_000)
    max_chip_size: int = Field(1024, ge=16, le=8192)
    max_steps: int = Field(24, ge=1, le=366)
    chip_reads: int = Field(2, ge=1, le=32)
    max_chip_bytes: int = Field(512 << 20, ge=1 << 20)
    search_limit: int = Field(100, ge=1, le=5_000)  # CMR-STAC refuses more than 5000
    edl_token_url: str = "https://urs.earthdata.nasa.gov/api/users/find_or_create_token"
    timeout_s: float = Field(60.0, gt=0)


class GeoModelSettings(Model):
    """``[models.NAME]``: a user ONNX model run on chip stacks.

    ``bands``: the Sentinel-2 band names it takes, in order (``B02``…``B12``, ``B8A``);
    ``mean`` / ``std``: per band, on reflectance (0…1), applied as ``(x − mean) / std``;
    ``input_size``: the chip size it was trained on (a task's ``chip_size`` must equal it);
    ``steps``: temporal steps stacked per inference, oldest first, time-major (channels =
    ``steps × len(bands)``, as InstaGeo flattens them); ``output``: ``segmentation`` (logits
    ``(1, C, H, W)`` → class per pixel), ``regression`` (``(1, 1, H, W)`` float) or
    ``classes`` (``(1, C)`` scores for the whole chip); ``labels``: class names.
    """

    path: Path
    bands: list[str] = Field(min_length=1)
    mean: list[float]
    std: list[float]
    input_size: int = Field(256, ge=16, le=8192)
    steps: int = Field(1, ge=1, le=64)
    output: Literal["segmentation", "regression", "classes"] = "segmentation"
    labels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _per_band(self) -> GeoModelSettings:
        if len(self.mean) != len(self.bands) or len(self.std) != len(self.bands):
            raise ValueError(f"mean and std need one value per band ({len(self.bands)} bands)")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be > 0")
        return self
