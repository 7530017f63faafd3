#!/usr/bin/env python3
"""Build ``daemon/models/rbr_octas.onnx``: the red/blue-ratio cloud-fraction baseline.

Physics (Long, Sabburg, Calbó & Pagès 2006, J. Atmos. Oceanic Technol. 23(5),
doi:10.1175/JTECH1875.1): clear sky is blue (Rayleigh scattering ∝ λ⁻⁴), cloud droplets
scatter all wavelengths about equally, so a pixel is cloud when R / (B + 1) ≥ threshold.

Graph inputs:
  image            uint8   [1, H, W, 3]  RGB, NHWC (the decoded array as-is)
  mask             float32 [1, H, W]     sky weight per pixel (0 outside the dome)
  threshold        float32 [1]           red/blue ratio at or above which a pixel is cloud
  noise_tolerance  float32 [1]           ε: f ≤ ε → 0 octas, f ≥ 1 − ε → 8 (strict WMO: 0)
Graph outputs:
  cloud_fraction   float32 []  weighted cloudy share of the sky mask, 0..1
  octas            int64   [1] WMO code table 2700: 0 only when clear, 8 only when
                               overcast, otherwise clamp(floor(8·f + 0.5), 1, 7) — round
                               half up, never ONNX/numpy Round (half to even)
  valid_weight     float32 []  summed mask weight (0 → no sky seen: report no octas)

Run ``python scripts/build_octas_model.py [OUT]``; the output is byte-for-byte the same
on every run (fixed opset, IR version, producer and metadata), which a test checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODEL_NAME = "rbr-baseline"
MODEL_VERSION = "1"
OPSET = 17
IR_VERSION = 8
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "daemon" / "models" / "rbr_octas.onnx"


def _const(name: str, value: float | int, dtype: type) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def build() -> onnx.ModelProto:
    """The model proto (deterministic)."""
    nodes = [
        helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["x", "red_index"], ["red"], axis=3),
        helper.make_node("Gather", ["x", "blue_index"], ["blue"], axis=3),
        helper.make_node("Add", ["blue", "one"], ["blue_plus_one"]),
        helper.make_node("Div", ["red", "blue_plus_one"], ["rbr"]),
        helper.make_node("GreaterOrEqual", ["rbr", "threshold"], ["is_cloud"]),
        helper.make_node("Cast", ["is_cloud"], ["cloud"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["cloud", "mask"], ["cloud_weight"]),
        helper.make_node("ReduceSum", ["cloud_weight"], ["cloud_sum"], keepdims=0),
        helper.make_node("ReduceSum", ["mask"], ["valid_weight"], keepdims=0),
        helper.make_node("Max", ["valid_weight", "tiny"], ["denominator"]),
        helper.make_node("Div", ["cloud_sum", "denominator"], ["cloud_fraction"]),
        helper.make_node("Mul", ["cloud_fraction", "eight"], ["eighths"]),
        helper.make_node("Add", ["eighths", "half"], ["eighths_half_up"]),
        helper.make_node("Floor", ["eighths_half_up"], ["rounded"]),
        helper.make_node("Clip", ["rounded", "one", "seven"], ["clamped"]),
        helper.make_node("Cast", ["clamped"], ["octas_partial"], to=TensorProto.INT64),
        helper.make_node("LessOrEqual", ["cloud_fraction", "noise_tolerance"], ["is_clear"]),
        helper.make_node("Sub", ["one", "noise_tolerance"], ["full_bound"]),
        helper.make_node("GreaterOrEqual", ["cloud_fraction", "full_bound"], ["is_overcast"]),
        helper.make_node("Where", ["is_clear", "zero_octas", "octas_partial"], ["octas_clear"]),
        helper.make_node("Where", ["is_overcast", "eight_octas", "octas_clear"], ["octas"]),
    ]
    initializers = [
        _const("red_index", 0, np.int64),
        _const("blue_index", 2, np.int64),
        _const("one", 1.0, np.float32),
        _const("tiny", 1e-6, np.float32),
        _const("eight", 8.0, np.float32),
        _const("half", 0.5, np.float32),
        _const("seven", 7.0, np.float32),
        _const("zero_octas", 0, np.int64),
        _const("eight_octas", 8, np.int64),
    ]
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "H", "W", 3]),
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, "H", "W"]),
        helper.make_tensor_value_info("threshold", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("noise_tolerance", TensorProto.FLOAT, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("cloud_fraction", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("octas", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("valid_weight", TensorProto.FLOAT, []),
    ]
    graph = helper.make_graph(nodes, "rbr_octas", inputs, outputs, initializer=initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="harvestd scripts/build_octas_model.py",
        producer_version=MODEL_VERSION,
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model,
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "method": "red/blue ratio threshold (Long et al. 2006), WMO code table 2700 octas",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.write_bytes(build().SerializeToString(deterministic=True))
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
