"""Octas: WMO rounding, the ONNX baseline on exact and synthetic frames, night, custom models."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from daemon.images import CorruptImage, load_rgb
from daemon.store.models import Item
from daemon.worker.processors.octas import (
    OctasProcessor,
    find_sky_circle,
    octas_from_fraction,
    sun_elevation_deg,
)
from daemon.worker.processors.octas_config import OctasConfig, SkyMask
from tests.fakes.frames import fisheye_frame

ROOT = Path(__file__).resolve().parents[3]
CORDOBA = {"latitude": -31.42, "longitude": -64.19}
NOON_UTC = datetime(2024, 6, 15, 16, 0, tzinfo=UTC)  # ~13:00 local, sun up in Córdoba
MIDNIGHT_UTC = datetime(2024, 6, 15, 4, 0, tzinfo=UTC)  # ~01:00 local


def item(captured_at: datetime | None = NOON_UTC, metadata: dict | None = None) -> Item:
    return Item(id=1, source="sky", key="k", url=None, captured_at=captured_at,
                metadata=CORDOBA if metadata is None else metadata, processors=("octas",),
                status="downloaded", path="x.jpg", attempts=1)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, 0), (1e-4, 1), (0.0625, 1), (0.125, 1), (0.1875, 2), (0.3125, 3), (0.5, 4),
     (0.6875, 6), (0.8125, 7), (0.9375, 7), (0.9999, 7), (1.0, 8)],
)
def test_wmo_octas_rounding(fraction, expected):
    assert octas_from_fraction(fraction) == expected


def test_noise_tolerance_and_bad_fraction():
    assert octas_from_fraction(0.004, noise_tolerance=0.005) == 0
    assert octas_from_fraction(0.996, noise_tolerance=0.005) == 8
    with pytest.raises(ValueError):
        octas_from_fraction(1.2)
    with pytest.raises(ValueError):
        octas_from_fraction(float("nan"))


def _exact_png(tmp_path: Path, cloudy_pixels: int) -> Path:
    """16×16 lossless frame, whole frame is sky (explicit mask), ``cloudy_pixels`` white."""
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[...] = (60, 120, 200)
    rgb.reshape(-1, 3)[:cloudy_pixels] = (230, 230, 230)
    path = tmp_path / f"exact{cloudy_pixels}.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.mark.parametrize(("cloudy", "octas"), [(0, 0), (1, 1), (16, 1), (48, 2), (80, 3), (128, 4),
                                               (255, 7), (256, 8)])
def test_onnx_baseline_exact_fractions(tmp_path, cloudy, octas):
    # a square mask circle large enough to cover the whole 16×16 frame, no horizon cut
    mask = SkyMask(center_x=8, center_y=8, radius=100, horizon_cut_deg=90)
    proc = OctasProcessor("octas", OctasConfig(mask=mask))
    out = proc.process(item(), _exact_png(tmp_path, cloudy))
    assert out.octas == octas == octas_from_fraction(cloudy / 256)
    assert out.cloud_fraction == pytest.approx(cloudy / 256, abs=1e-6)
    assert out.model == "rbr-baseline" and out.model_version == "1"


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.375, 0.5, 0.73, 0.95, 1.0])
def test_synthetic_fisheye_frames_within_tolerance(tmp_path, fraction):
    path = tmp_path / "frame.jpg"
    path.write_bytes(fisheye_frame(fraction, seed=7))
    out = OctasProcessor("octas", OctasConfig()).process(item(), path)
    # stated tolerance: ±0.03 of cloud fraction after JPEG compression
    assert out.cloud_fraction == pytest.approx(fraction, abs=0.03)
    circle = out.output["sky_circle_px"]
    assert circle["how"] == "auto"
    assert circle["center_x"] == pytest.approx(320, abs=3) and circle["radius"] == pytest.approx(220, abs=3)
    if fraction in (0.0, 1.0):
        assert out.octas == (0 if fraction == 0 else 8)
    else:
        assert abs(out.octas - 8 * fraction) <= 1


def test_night_frame_has_no_octas(tmp_path):
    assert sun_elevation_deg(-31.42, -64.19, MIDNIGHT_UTC) < -18
    path = tmp_path / "frame.jpg"
    path.write_bytes(fisheye_frame(0.5, seed=1))
    out = OctasProcessor("octas", OctasConfig()).process(item(MIDNIGHT_UTC), path)
    assert out.octas is None and out.cloud_fraction is None
    assert out.output["condition"] == "night" and out.output["sun_elevation_deg"] < -6


def test_real_photo_decodes_with_reduced_scale(tmp_path):
    photo = ROOT / "tests" / "data" / "rocket.jpg"
    rgb, scale, full = load_rgb(photo, max_side_px=200)
    assert full == (640, 427) and max(rgb.shape[:2]) <= 200 and rgb.dtype == np.uint8
    assert scale == pytest.approx(rgb.shape[1] / 640)
    out = OctasProcessor("octas", OctasConfig()).process(item(), photo)
    # no dark border: the inscribed circle is used; the dusk sky is mostly clear blue
    assert out.output["sky_circle_px"]["radius"] == pytest.approx(213.5, abs=1)
    assert 0.0 <= out.cloud_fraction <= 1.0 and out.octas is not None


def test_find_sky_circle_falls_back_to_inscribed_circle_on_black_frame():
    assert find_sky_circle(np.zeros((100, 200, 3), np.uint8)) == (100.0, 50.0, 50.0)


def test_corrupt_and_truncated_images_raise(tmp_path):
    good = fisheye_frame(0.3)
    truncated = tmp_path / "t.jpg"
    truncated.write_bytes(good[: len(good) // 3])
    garbage = tmp_path / "g.jpg"
    garbage.write_bytes(b"<html>503 Service Unavailable</html>")
    proc = OctasProcessor("octas", OctasConfig())
    for path in (truncated, garbage):
        with pytest.raises(CorruptImage):
            proc.process(item(), path)


def _classifier(path: Path) -> None:
    """A tiny real ONNX classifier: 9 scores = mean of channel 0 times per-class weights."""
    weights = numpy_helper.from_array(np.arange(9, dtype=np.float32).reshape(1, 9), "w")
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0, axes=[1, 2, 3]),
        helper.make_node("Unsqueeze", ["m", "ax"], ["m2"]),
        helper.make_node("Mul", ["m2", "w"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 9])],
        initializer=[weights, numpy_helper.from_array(np.array([1], np.int64), "ax")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_custom_onnx_classifier_replaces_baseline(tmp_path):
    model = tmp_path / "mine.onnx"
    _classifier(model)
    labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8"]
    cfg = OctasConfig(model=model, labels=list(reversed(labels)), input_size=(32, 32))
    path = tmp_path / "frame.jpg"
    path.write_bytes(fisheye_frame(0.4))
    out = OctasProcessor("octas", cfg).process(item(), path)
    # positive mean → the largest weight (index 8) wins → label "0" (labels reversed)
    assert out.output["label_index"] == 8 and out.octas == 0
    assert out.model == "mine" and len(out.model_version) == 12


def test_custom_model_needs_labels_and_size():
    with pytest.raises(ValueError, match="needs 'labels'"):
        OctasConfig(model=Path("x.onnx"))
    with pytest.raises(ValueError, match="not an octas value"):
        OctasConfig(model=Path("x.onnx"), labels=["cloudy"], input_size=(8, 8))


