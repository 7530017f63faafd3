"""Synthetic all-sky (fisheye) frames with a known cloud fraction, as real JPEG bytes."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

SKY_RGB = (68, 128, 212)  # clear-sky blue: R/B ≈ 0.32
CLOUD_RGB = (226, 228, 232)  # cloud white/grey: R/B ≈ 0.97


def fisheye_frame(cloud_fraction: float, *, size: tuple[int, int] = (640, 480),
                  radius: int = 220, horizon_cut_deg: float = 80.0, seed: int = 0,
                  quality: int = 90) -> bytes:
    """JPEG of a dark frame with a bright sky disc; ``cloud_fraction`` of the disc *inside
    the horizon cut* is cloud (smooth random blobs, so JPEG edges are realistic).

    The disc is centred; pixels outside it are black, like a real fisheye camera.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 20 + 2, width // 20 + 2)).astype(np.float32)
    field = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC),
        dtype=np.float32,
    ) + rng.random((height, width)).astype(np.float32)  # break ties
    ys, xs = np.ogrid[:height, :width]
    r2 = (xs + 0.5 - width / 2) ** 2 + (ys + 0.5 - height / 2) ** 2
    disc = r2 <= radius**2
    inner = r2 <= (radius * horizon_cut_deg / 90.0) ** 2
    if cloud_fraction <= 0:
        cloud = np.zeros_like(disc)
    elif cloud_fraction >= 1:
        cloud = disc.copy()
    else:
        cut = np.quantile(field[inner], 1.0 - cloud_fraction)
        cloud = (field > cut) & disc
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    noise = rng.integers(-6, 7, size=(height, width, 3))
    sky = np.clip(np.array(SKY_RGB) + noise, 0, 255).astype(np.uint8)
    white = np.clip(np.array(CLOUD_RGB) + noise, 0, 255).astype(np.uint8)
    rgb[disc & ~cloud] = sky[disc & ~cloud]
    rgb[cloud] = white[cloud]
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def fraction_for_key(key: str) -> float:
    """A deterministic cloud fraction in [0, 1] for a slot key (the imitation's ground truth)."""
    value = random.Random(key).random()
    if value < 0.1:
        return 0.0
    if value > 0.9:
        return 1.0
    return round((value - 0.1) / 0.8, 3)
