"""``[processors.NAME]`` with ``kind = "octas"``: cloud cover of a sky-camera frame."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from daemon.config.base import Model


class SkyMask(Model):
    """Sky mask of a fisheye frame, in pixels of the full-size image.

    ``auto``: the bright disc is found from the dark border; failing that, the inscribed
    circle. ``horizon_cut_deg`` is the largest zenith angle kept (equidistant lens model:
    the circle edge is 90°).
    """

    center_x: float | None = None
    center_y: float | None = None
    radius: float | None = Field(None, gt=0)
    horizon_cut_deg: float = Field(80.0, gt=0, le=90)

    @model_validator(mode="after")
    def _all_or_none(self) -> SkyMask:
        given = [v is not None for v in (self.center_x, self.center_y, self.radius)]
        if any(given) and not all(given):
            raise ValueError("set center_x, center_y and radius together, or none for auto")
        return self


class OctasConfig(Model):
    """``[processors.NAME]``: one configured processor (``kind`` defaults to NAME).

    For ``kind = "octas"``: ``threshold`` is the red/blue ratio at or above which a pixel
    is cloud; ``model`` replaces the shipped RBR baseline with a user's ONNX classifier
    whose ``labels`` are octas values ``"0"`` … ``"8"``.
    """

    kind: Literal["octas"] = "octas"
    threshold: float = Field(0.6, gt=0, le=5)
    noise_tolerance: float = Field(0.0, ge=0, lt=0.5)
    night_sun_elevation_deg: float = Field(-6.0, ge=-18, le=10)
    max_side_px: int = Field(640, ge=64, le=8192)
    mask: SkyMask = Field(default_factory=SkyMask)
    model: Path | None = None
    labels: list[str] | None = None
    input_size: tuple[int, int] | None = None
    input_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    input_std: tuple[float, float, float] = (255.0, 255.0, 255.0)

    @model_validator(mode="after")
    def _model_needs_labels(self) -> OctasConfig:
        if self.model is not None and (not self.labels or self.input_size is None):
            raise ValueError("a custom 'model' needs 'labels' and 'input_size' = [W, H]")
        if self.labels:
            for label in self.labels:
                if not (label.isdigit() and 0 <= int(label) <= 8):
                    raise ValueError(f"label {label!r} is not an octas value 0..8")
        return self
