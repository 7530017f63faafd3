"""Processor ``vegetation``: NDVI and SAVI from multispectral TIFFs; VARI and ExG from RGB.

- NDVI = (NIR − Red) / (NIR + Red) — Rouse et al. 1974 (NASA NTRS 19740022614).
- SAVI = (1 + L)(NIR − Red) / (NIR + Red + L), L = 0.5 — Huete 1988, RSE 25:295.
  Both on reflectance = (DN − black_level) × scale; pixels with NIR + Red ≤ 0 or a
  non-finite value are invalid (NaN). Input: a multi-band TIFF (layers from ``bands`` or the
  preset), or one single-band file per band as the cameras write them (MicaSense
  ``IMG_0007_4.tif``, Sequoia ``…_NIR.TIF``, DJI P4M ``DJI_0015.TIF``): the capture is
  computed once, with its NIR file (which reads its red sibling); the other band files get a
  "skipped" result. Per-band frames are not co-registered: edges are approximate.
- RGB-only images (no NIR) get VARI = (G − R)/(G + R − B) (Gitelson et al. 2002, RSE 80:76)
  and ExG = 2g − r − b on chromatic coordinates (Woebbecke et al. 1995), labelled as such:
  relative greenness, never called NDVI.

Outputs per index: mean, median, p10, p90 and valid pixel count; for NDVI (or VARI) the
fraction of valid pixels above ``vegetated_ndvi``. The main index is also written next to the
source image as a float32 TIFF (``<stem>.<index>.tif``, NaN = invalid) and a colour-mapped PNG
preview (``<stem>.<index>.png``: red −1 … yellow 0 … green +1, invalid transparent).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from daemon.images import CorruptImage, check_pixels
from daemon.index_math import ndvi_savi, preview_rgba, stats, vari_exg
from daemon.store.models import Item, ResultOutput
from daemon.worker.processors.base import Processor
from daemon.worker.processors.vegetation_config import VegetationConfig

MODEL_VERSION = "1"
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
# one single-band file per band (models_and_data.md §2.2): file-name pattern and band tokens
_MICASENSE = (re.compile(r"^(?P<stem>.+)(?P<sep>_)(?P<band>\d{1,2})(?P<ext>\.tiff?)$", re.I),
              {"blue": "1", "green": "2", "red": "3", "nir": "4", "rededge": "5"})
BAND_FILES: dict[str, tuple[re.Pattern[str], dict[str, str]]] = {
    "micasense_rededge": _MICASENSE,
    "micasense_altum": _MICASENSE,
    "dji_p4m": (re.compile(r"^(?P<stem>DJI_\d{3})(?P<sep>)(?P<band>[0-5])(?P<ext>\.tiff?)$", re.I),
                {"blue": "1", "green": "2", "red": "3", "rededge": "4", "nir": "5"}),
    "parrot_sequoia": (re.compile(r"^(?P<stem>.+)(?P<sep>_)(?P<band>GRE|RED|REG|NIR)(?P<ext>\.tiff?)$", re.I),
                       {"green": "GRE", "red": "RED", "rededge": "REG", "nir": "NIR"}),
}


def read_bands(path: Path) -> np.ndarray:
    """The image as ``(bands, H, W)`` float32 (TIFF via tifffile, others via Pillow).

    The header is checked against the pixel budget first (``[worker] max_image_pixels``):
    a decompression bomb is refused before any pixel is decoded. float32 keeps the working
    set at 4 bytes per band and pixel (the indices need no more precision).

    Raises:
        ImageTooLarge: over the pixel budget.
        CorruptImage: unreadable or not a 2-D image.
    """
    check_pixels(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                data, axes = np.asarray(series.asarray()), series.axes
        else:
            with Image.open(path) as img:
                data, axes = np.asarray(img.convert("RGB")), "YXS"
    except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
        raise CorruptImage(f"cannot read {path.name}: {exc}") from None
    if data.ndim == 2:
        data = data[np.newaxis]
    elif data.ndim == 3 and axes.endswith("S"):
        data = np.moveaxis(data, -1, 0)  # samples interleaved: (H, W, bands) → (bands, H, W)
    if data.ndim != 3:
        raise CorruptImage(f"{path.name}: expected a 2-D image with bands, got shape {data.shape}")
    return data.astype(np.float32)


class VegetationProcessor(Processor):
    """``kind = "vegetation"`` (see the module docstring)."""

    def __init__(self, name: str, config: VegetationConfig) -> None:
        self.name = name
        self.config = config
        self.bands, self.scale, self.black_level = config.resolved()

    def _capture(self, path: Path) -> tuple[np.ndarray, Path] | str | None:
        """A per-band file of a capture: the (red, nir) stack read from the NIR file and the
        capture's name; a reason string for the other band files; None when not a band file."""
        pattern = BAND_FILES.get(self.config.preset or "")
        match = pattern[0].match(path.name) if pattern else None
        if pattern is None or match is None:
            return None
        tokens = pattern[1]
        if match["band"].upper() != tokens["nir"].upper():
            return f"band file {match['band']}: the capture is processed with its NIR file"
        red_name = f"{match['stem']}{match['sep']}{tokens['red']}{match['ext']}"
        red_path = path.with_name(red_name)
        if not red_path.exists():
            raise ValueError(f"{path.name}: the capture's red band file {red_name} is missing")
        red, nir = read_bands(red_path), read_bands(path)
        return np.stack([red[0], nir[0]]), path.with_name(match["stem"] + match["ext"])

    def process(self, item: Item, path: Path) -> ResultOutput:
        """Indices of the image at ``path``. Raises CorruptImage for unreadable files."""
        cfg = self.config
        data = read_bands(path)
        bands = self.bands
        capture = self._capture(path) if data.shape[0] == 1 else None  # one file per band?
        if isinstance(capture, str):
            return ResultOutput(output={"skipped": capture}, model="vegetation-band-file",
                                model_version=MODEL_VERSION)
        if capture is not None:
            data, path = capture
            bands = {"red": 1, "nir": 2}
        have_nir = "nir" in bands and "red" in bands and data.shape[0] >= max(bands["nir"], bands["red"])
        if have_nir:
            refl = (data - np.float32(self.black_level)) * np.float32(self.scale)
            red, nir = refl[bands["red"] - 1], refl[bands["nir"] - 1]
            main_name = "ndvi"
            main, savi = ndvi_savi(red, nir, cfg.savi_l)
            output: dict[str, Any] = {
                "indices": "NDVI/SAVI", "ndvi": stats(main, cfg.vegetated_ndvi),
                "savi": {**stats(savi), "L": cfg.savi_l},
                "reflectance": {"scale": self.scale, "black_level": self.black_level},
            }
        elif data.shape[0] > 3:
            raise ValueError(f"{path.name}: {data.shape[0]} bands but no red/nir band numbers: set "
                             f"[processors.{self.name}] bands or preset")
        elif data.shape[0] == 3:
            main_name = "vari"
            main, exg = vari_exg(data[:3])
            output = {"indices": "VARI/ExG (RGB only: relative greenness, not NDVI)",
                      "vari": stats(main, 0.0), "exg": stats(exg)}
        else:
            raise CorruptImage(f"{path.name}: {data.shape[0]} band(s): neither red+NIR nor RGB")
        output["files"] = self._write(path, main_name, main)
        return ResultOutput(output=output, model=f"vegetation-{main_name}", model_version=MODEL_VERSION)

    def _write(self, source: Path, index_name: str, index: np.ndarray) -> dict[str, str]:
        written: dict[str, str] = {}
        stem = source.with_suffix("")
        if self.config.write_raster:
            raster = stem.with_name(f"{stem.name}.{index_name}.tif")
            tmp = raster.with_name(raster.name + ".part")
            tifffile.imwrite(tmp, index.astype(np.float32))
            tmp.replace(raster)
            written["raster"] = raster.name
        if self.config.write_preview:
            preview = stem.with_name(f"{stem.name}.{index_name}.png")
            tmp = preview.with_name(preview.name + ".part")
            Image.fromarray(preview_rgba(index)).save(tmp, format="PNG")  # (H, W, 4) uint8 → RGBA
            tmp.replace(preview)
            written["preview"] = preview.name
        return written
