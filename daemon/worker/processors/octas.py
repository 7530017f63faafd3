"""Processor ``octas``: total cloud cover of an all-sky image, in octas (WMO code table 2700).

Baseline: ``daemon/models/rbr_octas.onnx`` (built by ``scripts/build_octas_model.py``), a
red/blue-ratio threshold model (Long et al. 2006, doi:10.1175/JTECH1875.1) run with
onnxruntime over the sky mask: a circle (auto-detected from the dark border of a fisheye
frame, or configured) cut at ``horizon_cut_deg`` zenith angle (equidistant lens model).
Octas follow WMO code table 2700: 0 only with no cloud, 8 only when fully covered,
otherwise ``clamp(floor(8·f + 0.5), 1, 7)`` (round half up, never banker's rounding).
When the sun is below ``night_sun_elevation_deg`` (default −6°, civil twilight) at the
site and time, the result is ``night`` with no octas (SYNOP ``/``).

A user's own ONNX classifier replaces the baseline with ``model = "path.onnx"``,
``labels`` (octas per output class) and ``input_size = [W, H]``; its input is NCHW
float32 ``(x − input_mean) / input_std`` of the resized RGB image.
"""

from __future__ import annotations

import functools
import hashlib
import math
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from astral import Observer
from astral.sun import elevation
from PIL import Image

from daemon.images import load_rgb
from daemon.store.models import Item, ResultOutput
from daemon.worker.processors.base import Processor
from daemon.worker.processors.octas_config import OctasConfig, SkyMask

DARK_LEVEL = 25  # 8-bit brightness below which a pixel is the black border of a fisheye frame


def octas_from_fraction(fraction: float, noise_tolerance: float = 0.0) -> int:
    """WMO code table 2700 octas (0..8) from a cloud fraction in [0, 1].

    0 only when ``fraction ≤ noise_tolerance``; 8 only when ``fraction ≥ 1 − noise_tolerance``;
    otherwise ``floor(8·f + 0.5)`` clamped to 1..7 (round half up: 0.3125 → 3, not 2).

    Raises:
        ValueError: ``fraction`` outside [0, 1] or NaN.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"cloud fraction {fraction!r} is outside [0, 1]")
    if fraction <= noise_tolerance:
        return 0
    if fraction >= 1.0 - noise_tolerance:
        return 8
    return min(7, max(1, math.floor(8.0 * fraction + 0.5)))


def sun_elevation_deg(latitude: float, longitude: float, when: datetime) -> float:
    """Apparent solar elevation in degrees (astral, with refraction) at a site and UTC time."""
    return float(elevation(Observer(latitude=latitude, longitude=longitude), when.astimezone(UTC)))


def find_sky_circle(rgb: np.ndarray) -> tuple[float, float, float]:
    """(centre x, centre y, radius) in pixels of the bright disc of a fisheye frame.

    ``rgb`` is ``(H, W, 3) uint8``. The disc is the bounding box of rows/columns with at
    least 1 % of pixels brighter than :data:`DARK_LEVEL`; with no dark border (or a
    frame too dark to tell, e.g. at night) it is the inscribed circle of the frame.
    """
    height, width = rgb.shape[:2]
    step = max(1, min(height, width) // 192)  # a ~200-px view is enough to find the disc
    view = rgb[::step, ::step]
    brightest = np.maximum(np.maximum(view[..., 0], view[..., 1]), view[..., 2])
    bright = brightest > DARK_LEVEL
    cols = np.flatnonzero(bright.mean(axis=0) > 0.01)
    rows = np.flatnonzero(bright.mean(axis=1) > 0.01)
    inscribed = (width / 2.0, height / 2.0, min(width, height) / 2.0)
    if cols.size == 0 or rows.size == 0:
        return inscribed
    x0, x1 = cols[0] * step, min(width, (cols[-1] + 1) * step)
    y0, y1 = rows[0] * step, min(height, (rows[-1] + 1) * step)
    if (x1 - x0) >= width - 2 * step and (y1 - y0) >= height - 2 * step:
        return inscribed
    return ((x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) / 2.0)


def sky_mask(shape: tuple[int, int], circle: tuple[float, float, float], horizon_cut_deg: float) -> np.ndarray:
    """``(H, W) float32`` weights: 1 inside the circle cut at ``horizon_cut_deg`` zenith, else 0.

    Equidistant fisheye: zenith angle grows linearly with radius, 90° at the circle edge.
    Masks are cached per (shape, circle rounded to whole pixels): a camera's disc is stable.
    The returned array is shared: do not modify it.
    """
    rounded = (round(circle[0]), round(circle[1]), round(circle[2]))
    return _sky_mask_cached(shape[0], shape[1], *rounded, horizon_cut_deg)


@functools.lru_cache(maxsize=32)
def _sky_mask_cached(height: int, width: int, cx: float, cy: float, radius: float,
                     horizon_cut_deg: float) -> np.ndarray:
    shape = (height, width)
    ys, xs = np.ogrid[: shape[0], : shape[1]]
    limit = radius * horizon_cut_deg / 90.0
    inside = (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= limit * limit
    return inside.astype(np.float32)


def _session(path: Path | Any) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OctasProcessor(Processor):
    """Cloud cover in octas; see the module docstring. Thread-safe (ORT ``run`` is)."""

    def __init__(self, name: str, config: OctasConfig) -> None:
        self.name = name
        self.config = config
        if config.model is None:
            with resources.as_file(resources.files("daemon.models") / "rbr_octas.onnx") as path:
                self.session = _session(path)
            meta = self.session.get_modelmeta().custom_metadata_map
            self.model_name = meta.get("name", "rbr-baseline")
            self.model_version = meta.get("version", "?")
        else:
            self.session = _session(config.model)
            self.model_name = config.model.stem
            self.model_version = hashlib.sha256(config.model.read_bytes()).hexdigest()[:12]

    def process(self, item: Item, path: Path) -> ResultOutput:
        """Octas of one sky image. Raises ``CorruptImage`` for undecodable files."""
        cfg = self.config
        lat, lon = item.metadata.get("latitude"), item.metadata.get("longitude")
        sun = None
        if lat is not None and lon is not None and item.captured_at is not None:
            sun = round(sun_elevation_deg(float(lat), float(lon), item.captured_at), 2)
            if sun < cfg.night_sun_elevation_deg:
                return ResultOutput(
                    output={"condition": "night", "sun_elevation_deg": sun},
                    model=self.model_name,
                    model_version=self.model_version,
                )
        rgb, scale, full_size = load_rgb(path, cfg.max_side_px)
        if cfg.model is not None:
            return self._classify(rgb, sun)
        return self._baseline(rgb, scale, full_size, sun, cfg.mask)

    def _baseline(self, rgb: np.ndarray, scale: float, full_size: tuple[int, int],
                  sun: float | None, mask_cfg: SkyMask) -> ResultOutput:
        cfg = self.config
        if mask_cfg.radius is not None:
            assert mask_cfg.center_x is not None and mask_cfg.center_y is not None
            circle = (mask_cfg.center_x * scale, mask_cfg.center_y * scale, mask_cfg.radius * scale)
            how = "configured"
        else:
            circle = find_sky_circle(rgb)
            how = "auto"
        mask = sky_mask(rgb.shape[:2], circle, mask_cfg.horizon_cut_deg)
        fraction, octas, valid = self.session.run(
            None,
            {
                "image": rgb[np.newaxis],
                "mask": mask[np.newaxis],
                "threshold": np.array([cfg.threshold], dtype=np.float32),
                "noise_tolerance": np.array([cfg.noise_tolerance], dtype=np.float32),
            },
        )
        output: dict[str, Any] = {
            "threshold": cfg.threshold,
            "sun_elevation_deg": sun,
            "image_size_px": list(full_size),
            "decoded_size_px": [rgb.shape[1], rgb.shape[0]],
            "sky_circle_px": {"center_x": round(float(circle[0]) / scale, 1),
                              "center_y": round(float(circle[1]) / scale, 1),
                              "radius": round(float(circle[2]) / scale, 1), "how": how},
            "valid_fraction": round(float(valid) / (rgb.shape[0] * rgb.shape[1]), 4),
        }
        if float(valid) <= 0:
            output["condition"] = "no_sky_visible"
            return ResultOutput(output, self.model_name, self.model_version)
        f = round(float(fraction), 6)
        output.update(condition="day", cloud_fraction=f, octas=int(octas[0]))
        return ResultOutput(output, self.model_name, self.model_version, int(octas[0]), f)

    def _classify(self, rgb: np.ndarray, sun: float | None) -> ResultOutput:
        cfg = self.config
        assert cfg.input_size is not None and cfg.labels is not None
        resized = Image.fromarray(rgb).resize(cfg.input_size, Image.Resampling.BILINEAR)
        pixels = np.asarray(resized, dtype=np.float32)
        mean, std = np.array(cfg.input_mean, np.float32), np.array(cfg.input_std, np.float32)
        x = np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1)[np.newaxis], np.float32)
        input_name = self.session.get_inputs()[0].name
        (scores,) = self.session.run(None, {input_name: x})[:1]
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.size != len(cfg.labels):
            raise ValueError(f"model gave {scores.size} scores for {len(cfg.labels)} labels")
        best = int(np.argmax(scores))
        octas = int(cfg.labels[best])
        output = {"condition": "day", "octas": octas, "label_index": best,
                  "scores": [round(float(s), 6) for s in scores], "sun_elevation_deg": sun}
        return ResultOutput(output, self.model_name, self.model_version, octas, None)
