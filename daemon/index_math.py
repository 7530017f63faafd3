"""Spectral index arithmetic shared by the drone ``vegetation`` processor and geo tasks.

- NDVI = (NIR − Red) / (NIR + Red) — Rouse et al. 1974 (NASA NTRS 19740022614).
- SAVI = (1 + L)(NIR − Red) / (NIR + Red + L), L = 0.5 — Huete 1988, RSE 25:295.
- NDWI = (Green − NIR) / (Green + NIR) — McFeeters 1996, IJRS 17(7):1425.
- VARI = (G − R)/(G + R − B) — Gitelson et al. 2002, RSE 80:76; ExG = 2g − r − b on
  chromatic coordinates — Woebbecke et al. 1995.

Inputs are reflectance arrays (0…1) of one shape, NaN where invalid; outputs float32 with NaN
where the index is undefined.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def stats(index: np.ndarray, above: float | None = None) -> dict[str, Any]:
    """mean, median, p10, p90, valid pixel count (and fraction > ``above``) of the finite values."""
    valid = index[np.isfinite(index)]
    if valid.size == 0:
        return {"valid_pixels": 0, "mean": None, "median": None, "p10": None, "p90": None}
    p10, median, p90 = np.percentile(valid, [10, 50, 90])
    out: dict[str, Any] = {"valid_pixels": int(valid.size), "mean": round(float(valid.mean()), 6),
                           "median": round(float(median), 6), "p10": round(float(p10), 6),
                           "p90": round(float(p90), 6)}
    if above is not None:
        out["vegetated_fraction"] = round(float((valid > above).mean()), 6)
    return out


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float32; NaN where either is not finite or ``den`` ≤ 1e-12."""
    out = np.full(num.shape, np.nan, dtype=np.float32)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 1e-12)
    np.divide(num, den, out=out, where=ok)
    return out


def ndvi_savi(red: np.ndarray, nir: np.ndarray, savi_l: float) -> tuple[np.ndarray, np.ndarray]:
    """NDVI and SAVI of reflectance arrays (same shape); NaN where undefined."""
    diff = nir - red
    total = nir + red
    ndvi = ratio(diff, total)
    savi = ratio((1 + savi_l) * diff, total + savi_l)
    savi[~np.isfinite(ndvi)] = np.nan
    return ndvi, savi


def vari_exg(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VARI and chromatic ExG of an ``(3, H, W)`` RGB array."""
    r, g, b = rgb[0], rgb[1], rgb[2]
    vari = ratio(g - r, np.abs(g + r - b)) * np.sign(g + r - b)
    total = r + g + b
    exg = ratio(2 * g - r - b, total)
    return vari, exg


def preview_rgba(index: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8: red at −1, yellow at 0, green at +1; invalid pixels transparent."""
    x = np.clip(np.nan_to_num(index, nan=0.0), -1, 1)
    red = np.where(x < 0, 1.0, 1.0 - x)
    green = np.where(x < 0, 1.0 + x, 1.0)
    rgba = np.zeros((*index.shape, 4), dtype=np.uint8)
    rgba[..., 0] = (red * 255).astype(np.uint8)
    rgba[..., 1] = (green * 200).astype(np.uint8)
    rgba[..., 3] = np.where(np.isfinite(index), 255, 0).astype(np.uint8)
    return rgba


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """McFeeters' NDWI of reflectance arrays (same shape); NaN where undefined."""
    return ratio(green - nir, green + nir)

