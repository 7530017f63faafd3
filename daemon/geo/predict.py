"""Model prediction on a chip stack: built-in indices or a user ONNX model. Blocking (GDAL,
onnxruntime): run in the CPU pool.

Input: one chip cell's GeoTIFFs over the task's steps, oldest first, each ``(B, H, W)``
digital numbers turned into reflectance with the file's scales and offsets (nodata → NaN).
Output: a GeoTIFF aligned with the chips (same CRS and transform), a colour-mapped PNG
preview and summary statistics.

- Index models: one float32 band per step (the step's date as description), NaN nodata;
  the preview shows the newest step (red −1 … yellow 0 … green +1).
- ONNX ``segmentation``: logits ``(1, C, H, W)`` → class per pixel, uint8, 255 = nodata;
  ``regression``: ``(1, 1, H, W)`` → float32; ``classes``: ``(1, C)`` scores → one label for
  the chip, no raster. Inputs ``(1, steps × bands, H, W)`` float32, time-major (all bands of
  the oldest step first, as InstaGeo's ``adjust_dims``), ``(x − mean) / std``, NaN → 0. A
  model of ``steps = 1`` runs once per step; one of ``steps = k`` once on the newest k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import rasterio
from PIL import Image

from daemon.geo.chips import write_geotiff
from daemon.geo.config import GeoModelSettings
from daemon.geo.indices import IndexModel
from daemon.index_math import preview_rgba, stats

PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
                   dtype=np.uint8)  # class colours of the segmentation preview (matplotlib's tab10)
CLASS_NODATA = 255


class PredictionError(Exception):
    """A chip stack the model cannot run on (the reason)."""


@dataclass(frozen=True)
class ChipStack:
    """``reflectance``: ``(S, B, H, W)`` float32, NaN = nodata, steps oldest first;
    ``dates``: the steps' dates; ``epsg``, ``transform``: the chips' georeference."""

    reflectance: np.ndarray
    dates: list[str]
    epsg: int
    transform: Any


def load_stack(paths: Sequence[Path], dates: Sequence[str], bands: Sequence[str]) -> ChipStack:
    """Read chip GeoTIFFs (one per step, oldest first) and pick ``bands`` by description.

    Raises:
        PredictionError: a chip lacks a band or the chips are not aligned.
    """
    layers = []
    epsg, transform = 0, None
    for path in paths:
        with rasterio.open(path) as src:
            names = list(src.descriptions)
            missing = [b for b in bands if b not in names]
            if missing:
                raise PredictionError(f"{path.name}: no band {', '.join(missing)}")
            if transform is not None and (src.transform != transform or src.crs.to_epsg() != epsg):
                raise PredictionError(f"{path.name}: not aligned with the other steps' chips")
            epsg, transform = int(src.crs.to_epsg() or 0), src.transform
            picked = []
            for band in bands:
                i = names.index(band)
                dn = src.read(i + 1).astype(np.float32)
                refl = dn * np.float32(src.scales[i]) + np.float32(src.offsets[i])
                refl[dn == src.nodatavals[i]] = np.nan
                picked.append(refl)
            layers.append(np.stack(picked))
    return ChipStack(np.stack(layers), list(dates), epsg, transform)


def _preview(path: Path, rgba: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.part")
    Image.fromarray(rgba, mode="RGBA").save(tmp, format="PNG")
    tmp.replace(path)


def run_index(model: IndexModel, stack: ChipStack, out: Path) -> dict[str, Any]:
    """Per-pixel index of every step → ``out`` (GeoTIFF, one band per step) and
    ``out.with_suffix('.png')`` (newest step). Returns ``{"steps": [{date, stats}], …}``."""
    index = np.stack([model.compute(*step) for step in stack.reflectance]).astype(np.float32)
    write_geotiff(out, index, stack.epsg, stack.transform, float("nan"), stack.dates,
                  tags={"model": model.name})
    _preview(out.with_suffix(".png"), preview_rgba(index[-1]))
    per_step = [{"date": d, **stats(index[k])} for k, d in enumerate(stack.dates)]
    return {"model": model.name, "steps": per_step, "newest": per_step[-1]}


def _inputs(spec: GeoModelSettings, steps: np.ndarray) -> np.ndarray:
    mean = np.asarray(spec.mean, dtype=np.float32)[None, :, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[None, :, None, None]
    x = np.nan_to_num((steps - mean) / std, nan=0.0)
    return x.reshape(1, -1, *x.shape[2:]).astype(np.float32)  # time-major: (1, S·B, H, W)


def run_onnx(session: ort.InferenceSession, spec: GeoModelSettings, name: str, stack: ChipStack,
             out: Path) -> dict[str, Any]:
    """Run a user model on the stack; writes ``out`` (+ ``.png``) unless ``output`` is
    ``classes``. Returns statistics per inference.

    Raises:
        PredictionError: too few steps, or an output of an unexpected shape.
    """
    if len(stack.dates) < spec.steps:
        raise PredictionError(f"model {name} stacks {spec.steps} steps, {len(stack.dates)} available")
    groups = ([[k] for k in range(len(stack.dates))] if spec.steps == 1
              else [list(range(len(stack.dates) - spec.steps, len(stack.dates)))])
    input_name = session.get_inputs()[0].name
    labels = spec.labels
    rasters: list[np.ndarray] = []
    results: list[dict[str, Any]] = []
    for group in groups:
        steps = stack.reflectance[group]
        nodata = np.all(np.isnan(steps), axis=(0, 1))
        y = np.asarray(session.run(None, {input_name: _inputs(spec, steps)})[0])
        date = stack.dates[group[-1]]
        if spec.output == "classes":
            scores = y.reshape(-1)
            best = int(np.argmax(scores))
            results.append({"date": date, "label": labels[best] if best < len(labels) else str(best),
                            "scores": [round(float(v), 6) for v in scores]})
            continue
        if y.ndim != 4 or y.shape[0] != 1 or y.shape[2:] != steps.shape[2:]:
            raise PredictionError(f"model {name}: output shape {y.shape}, expected (1, C, H, W)")
        if spec.output == "segmentation":
            cls = np.argmax(y[0], axis=0).astype(np.uint8)
            cls[nodata] = CLASS_NODATA
            rasters.append(cls)
            valid = cls[~nodata]
            counts = np.bincount(valid, minlength=y.shape[1]) if valid.size else np.zeros(y.shape[1], int)
            names = [labels[i] if i < len(labels) else str(i) for i in range(y.shape[1])]
            results.append({"date": date, "valid_pixels": int(valid.size),
                            "fractions": {n: round(float(c) / max(1, valid.size), 6) for n, c in
                                          zip(names, counts, strict=True)}})
        else:
            value = y[0, 0].astype(np.float32)
            value[nodata] = np.nan
            rasters.append(value)
            results.append({"date": date, **stats(value)})
    summary: dict[str, Any] = {"model": name, "output": spec.output, "steps": results, "newest": results[-1]}
    if not rasters:
        return summary
    data = np.stack(rasters)
    names = [r["date"] for r in results]
    if spec.output == "segmentation":
        write_geotiff(out, data, stack.epsg, stack.transform, CLASS_NODATA, names, tags={"model": name})
        rgba = np.zeros((*data.shape[1:], 4), dtype=np.uint8)
        last = data[-1]
        ok = last != CLASS_NODATA
        rgba[ok, :3] = PALETTE[last[ok] % len(PALETTE)]
        rgba[ok, 3] = 255
    else:
        write_geotiff(out, data, stack.epsg, stack.transform, float("nan"), names, tags={"model": name})
        last = data[-1]
        finite = np.isfinite(last)
        lo, hi = (float(np.min(last[finite])), float(np.max(last[finite]))) if finite.any() else (0.0, 1.0)
        grey = np.clip((np.nan_to_num(last, nan=lo) - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.uint8)
        rgba = np.dstack([grey, grey, grey, np.where(finite, 255, 0).astype(np.uint8)])
    _preview(out.with_suffix(".png"), rgba)
    return summary


def open_session(path: Path) -> ort.InferenceSession:
    """An onnxruntime session for a user model (1 intra-op thread, sequential, no spinning:
    the pool's threads are the parallelism; ``models_and_data.md`` §0)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
