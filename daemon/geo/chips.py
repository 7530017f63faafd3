"""Reading chips from Cloud-Optimized GeoTIFFs and writing them (and model outputs) as
GeoTIFFs. Blocking (GDAL): run these in threads, never on the event loop.

A band is read through a ``WarpedVRT`` onto the chip's grid (nearest neighbour): for a scene
in the grid's UTM zone at the grid's pixel size this is a plain windowed read, pixel for
pixel; a 20 m band (SCL, B11) is repeated onto the 10 m grid; a scene in another zone is
warped. Remote files are read by GDAL's ``/vsicurl/`` with HTTP range requests, only the
internal tiles the window needs (``stac_sentinel2.md`` §4: GDAL config). GDAL handles are
opened per call (they are not thread-safe).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT

# GDAL options for remote COGs: no directory listing or sidecar probes, retries on 429/5xx
GDAL_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff,.TIFF",
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 1,
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIRANGE": "YES",
    "VSI_CACHE": "TRUE",
}


MAX_BLOCK_PIXELS = 4096 * 4096  # COGs use 256-1024 px blocks; a strip of a small file is fine too


class ChipReadError(Exception):
    """A band of a scene could not be read (missing file, not a raster, network)."""


@dataclass(frozen=True)
class ChipWindow:
    """Where a chip lies: ``epsg``, the ``transform`` of its upper-left pixel, ``size`` px."""

    epsg: int
    transform: Affine
    size: int


@dataclass(frozen=True)
class BandRef:
    """A file to read: ``href`` (URL or path) and its ``nodata`` value."""

    href: str
    nodata: float


def gdal_path(href: str) -> str:
    """The path GDAL opens for ``href``: ``/vsicurl/…`` for http(s) URLs."""
    return f"/vsicurl/{href}" if href.startswith(("http://", "https://")) else href


def read_band(ref: BandRef, window: ChipWindow, env: Mapping[str, Any]) -> np.ndarray:
    """``(size, size)`` of the file's first band on the chip's grid (nearest), its own dtype;
    pixels outside the file are ``nodata``.

    Raises:
        ChipReadError: the file cannot be opened or read (the reason names it).
    """
    try:
        with rasterio.Env(**env), rasterio.open(gdal_path(ref.href)) as src:
            rows, cols = src.block_shapes[0]
            if rows * cols > MAX_BLOCK_PIXELS:  # one block is decoded whole: a hostile file's could be GBs
                raise ChipReadError(f"{ref.href}: internal blocks of {cols} × {rows} pixels (more than "
                                    f"{MAX_BLOCK_PIXELS:,}): not a cloud-optimized GeoTIFF this reads")
            crs = CRS.from_epsg(window.epsg)
            with WarpedVRT(src, crs=crs, transform=window.transform, width=window.size, height=window.size,
                           resampling=Resampling.nearest, src_nodata=ref.nodata, nodata=ref.nodata) as vrt:
                return np.asarray(vrt.read(1))
    except rasterio.errors.RasterioError as exc:
        raise ChipReadError(f"{ref.href}: {exc}") from None


def cloud_mask(values: np.ndarray, nodata: float, classes: Sequence[int], bits: Sequence[int]) -> np.ndarray:
    """True where a pixel is masked: the mask file's nodata, an SCL class in ``classes``,
    or (a bit-field mask such as HLS Fmask, ``bits`` given) any of ``bits`` set."""
    masked = values == nodata
    if bits:
        ints = values.astype(np.int64)
        for bit in bits:
            masked |= ((ints >> bit) & 1).astype(bool)
    else:
        masked |= np.isin(values, list(classes))
    return masked


def read_chip(bands: Sequence[BandRef], mask: BandRef | None, window: ChipWindow, classes: Sequence[int],
              bits: Sequence[int], env: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    """``((B, size, size) array in the bands' dtype, masked fraction)``: every band on the
    chip's grid, pixels masked by the cloud mask set to each band's nodata. Remote files are
    read at once, one thread each (each costs HTTP round trips: they overlap); local files
    one after the other (a thread's GDAL start-up costs more than it saves: measured in
    ``bench/bench_geo.py``).

    Raises:
        ChipReadError: a band or the mask cannot be read.
    """
    refs = [*bands, *([mask] if mask is not None else [])]
    if any(gdal_path(ref.href).startswith("/vsicurl/") for ref in refs):
        with ThreadPoolExecutor(len(refs), thread_name_prefix="harvestd-chip") as pool:
            layers = list(pool.map(lambda ref: read_band(ref, window, env), refs))
    else:
        layers = [read_band(ref, window, env) for ref in refs]
    stack = np.stack(layers[:len(bands)])
    masked = np.zeros(stack.shape[1:], dtype=bool)
    if mask is not None:
        masked = cloud_mask(layers[-1], mask.nodata, classes, bits)
        for layer, ref in zip(stack, bands, strict=True):
            layer[masked] = ref.nodata
    return stack, float(masked.mean())


def write_geotiff(path: Path, data: np.ndarray, epsg: int, transform: Affine, nodata: float | None,
                  names: Sequence[str], scales: Sequence[float] | None = None,
                  offsets: Sequence[float] | None = None, tags: Mapping[str, Any] | None = None) -> int:
    """Write ``data`` ``(B, H, W)`` as a tiled, DEFLATE-compressed GeoTIFF at ``path``,
    atomically (a temporary file in the same folder, fsynced, then renamed: the path holds
    a whole file or nothing). Band descriptions are ``names``; ``scales``/``offsets`` turn
    stored values into reflectance. Returns the file's size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        bands, height, width = data.shape
        tiled = height % 16 == 0 and width % 16 == 0
        profile: dict[str, Any] = {
            "driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": data.dtype.name,
            "crs": CRS.from_epsg(epsg), "transform": transform, "nodata": nodata, "compress": "deflate",
            **({"tiled": True, "blockxsize": min(256, width), "blockysize": min(256, height)} if tiled else {}),
        }
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data)
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
            if scales is not None:
                dst.scales = tuple(scales)
            if offsets is not None:
                dst.offsets = tuple(offsets)
            if tags:
                dst.update_tags(**{k: str(v) for k, v in tags.items()})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path.stat().st_size
    finally:
        tmp.unlink(missing_ok=True)
