"""The shipped ONNX model is rebuilt byte for byte by its script (run as a subprocess)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[2]


def test_build_script_regenerates_the_committed_model_byte_for_byte(tmp_path):
    out = tmp_path / "rebuilt.onnx"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_octas_model.py"), str(out)],
                   check=True, capture_output=True, timeout=60)
    committed = ROOT / "daemon" / "models" / "rbr_octas.onnx"
    assert out.read_bytes() == committed.read_bytes()
    onnx.checker.check_model(onnx.load(io.BytesIO(committed.read_bytes())), full_check=True)
