"""Processor ``vegetation``: golden NDVI/SAVI on spyndex's real Sentinel-2 sample, RGB proxies."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from daemon.config.load import parse_config
from daemon.errors import ConfigError
from daemon.images import CorruptImage
from daemon.store.models import Item
from daemon.worker.processors.build import build_processor
from daemon.worker.processors.vegetation_config import VegetationConfig

DATA = Path(__file__).parents[2] / "data"


def sentinel2_sample() -> np.ndarray:
    """spyndex's S2_10m.json: (4, 300, 300) B02 B03 B04 B08, reflectance × 10000 (read without
    importing spyndex, whose __init__ wants pandas/xarray)."""
    spec = importlib.util.find_spec("spyndex")
    assert spec is not None and spec.submodule_search_locations, "pip install spyndex (dev extra)"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "S2_10m.json"
    return np.array(json.loads(path.read_text()), dtype=np.uint16)


def item(path: str) -> Item:
    return Item(1, "drone", "k", None, datetime(2025, 1, 1, tzinfo=UTC), {}, ("veg",), "downloaded", path, 1)


def processor(**settings):
    return build_processor("veg", VegetationConfig(kind="vegetation", **settings))


@pytest.mark.parametrize("layout", ["planar", "contiguous"])
def test_golden_ndvi_and_savi_on_real_sentinel2_data(tmp_path, layout):
    bands = sentinel2_sample()
    tif = tmp_path / "s2.tif"
    tifffile.imwrite(tif, bands if layout == "planar" else np.moveaxis(bands, 0, -1),
                     photometric="minisblack", planarconfig="separate" if layout == "planar" else "contig")
    out = processor(preset="sentinel2").process(item("s2.tif"), tif).output
    assert out["indices"] == "NDVI/SAVI"
    assert abs(out["ndvi"]["mean"] - 0.4700) <= 0.0005
    assert abs(out["savi"]["mean"] - 0.2640) <= 0.0005 and out["savi"]["L"] == 0.5
    assert out["ndvi"]["valid_pixels"] == 300 * 300
    assert abs(out["ndvi"]["median"] - 0.4149) <= 0.0005
    assert out["ndvi"]["p10"] < out["ndvi"]["median"] < out["ndvi"]["p90"]
    assert 0 < out["ndvi"]["vegetated_fraction"] < 1
    raster = tifffile.imread(tmp_path / out["files"]["raster"])
    assert raster.dtype == np.float32 and raster.shape == (300, 300)
    assert abs(float(np.nanmean(raster)) - 0.4700) <= 0.0005
    with Image.open(tmp_path / out["files"]["preview"]) as png:
        assert png.mode == "RGBA" and png.size == (300, 300)
    assert not list(tmp_path.glob("*.part"))


def test_black_level_and_scale_of_a_dji_stack(tmp_path):
    # 5 bands Blue Green Red RE NIR; DN = 4096 + reflectance × 65535
    red, nir = 0.1, 0.5
    stack = np.zeros((5, 4, 4), dtype=np.uint16)
    stack[2] = 4096 + round(red * 65535)
    stack[4] = 4096 + round(nir * 65535)
    tif = tmp_path / "DJI_0010.tif"
    tifffile.imwrite(tif, stack, photometric="minisblack", planarconfig="separate")
    out = processor(preset="dji_p4m", write_preview=False).process(item("x"), tif).output
    assert abs(out["ndvi"]["mean"] - (nir - red) / (nir + red)) < 1e-4
    assert abs(out["savi"]["mean"] - 1.5 * (nir - red) / (nir + red + 0.5)) < 1e-4
    assert out["files"] == {"raster": "DJI_0010.ndvi.tif"}


def test_an_rgb_photo_gets_vari_and_exg_never_ndvi(tmp_path):
    jpg = tmp_path / "field.jpg"
    jpg.write_bytes((DATA / "rocket.jpg").read_bytes())
    out = processor(bands={"red": 3, "nir": 4}).process(item("field.jpg"), jpg).output
    assert "ndvi" not in out and "savi" not in out
    assert out["indices"].startswith("VARI/ExG") and "not NDVI" in out["indices"]
    assert out["vari"]["valid_pixels"] > 0 and -1 <= out["exg"]["mean"] <= 1
    assert out["files"]["raster"] == "field.vari.tif"


def test_division_by_zero_is_invalid_not_a_crash(tmp_path):
    stack = np.zeros((4, 3, 3), dtype=np.uint16)  # red = nir = 0 everywhere
    tif = tmp_path / "dark.tif"
    tifffile.imwrite(tif, stack, photometric="minisblack", planarconfig="separate")
    out = processor(preset="sentinel2", write_raster=False, write_preview=False).process(item("x"), tif).output
    assert out["ndvi"]["valid_pixels"] == 0 and out["ndvi"]["mean"] is None


def test_unreadable_files_fail_clearly(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    with pytest.raises(CorruptImage, match=r"broken\.tif"):
        processor(preset="sentinel2").process(item("x"), bad)


def test_config_kinds_and_validation(tmp_path):
    cfg = parse_config('[processors.veg]\nkind = "vegetation"\npreset = "micasense_atlas"\n'
                       '[processors.octas]\nthreshold = 0.7\n', tmp_path / "c.toml")
    veg = cfg.processor("veg")
    assert isinstance(veg, VegetationConfig)
    assert veg.resolved() == ({"blue": 1, "green": 2, "red": 3, "rededge": 4, "nir": 5}, 1 / 32768, 0.0)
    assert cfg.processor("octas").kind == "octas"
    with pytest.raises(ConfigError, match="red and nir"):
        parse_config('[processors.veg]\nkind = "vegetation"\nbands = {red = 3}\n', tmp_path / "c.toml")
    with pytest.raises(ConfigError, match=r"processors\.veg\.savi_l"):
        parse_config('[processors.veg]\nkind = "vegetation"\nsavi_l = 3\n', tmp_path / "c.toml")


@pytest.mark.parametrize(("preset", "names"), [
    ("micasense_rededge", {"blue": "IMG_0007_1.tif", "green": "IMG_0007_2.tif", "red": "IMG_0007_3.tif",
                           "nir": "IMG_0007_4.tif", "rededge": "IMG_0007_5.tif"}),
    ("parrot_sequoia", {"green": "IMG_250601_101500_0001_GRE.TIF", "red": "IMG_250601_101500_0001_RED.TIF",
                        "rededge": "IMG_250601_101500_0001_REG.TIF", "nir": "IMG_250601_101500_0001_NIR.TIF"}),
    ("dji_p4m", {"blue": "DJI_0011.TIF", "green": "DJI_0012.TIF", "red": "DJI_0013.TIF",
                 "rededge": "DJI_0014.TIF", "nir": "DJI_0015.TIF"}),
])
def test_one_file_per_band_captures(tmp_path, preset, names):
    black = 4096 if preset == "dji_p4m" else 0
    level = {"red": 0.1, "nir": 0.5}
    for band, name in names.items():
        dn = black + round(level.get(band, 0.2) * 65535)
        tifffile.imwrite(tmp_path / name, np.full((6, 8), dn, dtype=np.uint16))
    veg = processor(preset=preset, write_preview=False)
    skipped = veg.process(item(names["red"]), tmp_path / names["red"]).output
    assert "processed with its NIR file" in skipped["skipped"]
    out = veg.process(item(names["nir"]), tmp_path / names["nir"]).output
    assert abs(out["ndvi"]["mean"] - (0.5 - 0.1) / (0.5 + 0.1)) < 1e-4
    assert out["ndvi"]["valid_pixels"] == 48
    assert (tmp_path / out["files"]["raster"]).is_file()
    (tmp_path / names["red"]).unlink()
    with pytest.raises(ValueError, match="red band file"):
        veg.process(item(names["nir"]), tmp_path / names["nir"])
