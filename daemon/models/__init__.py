"""Shipped ONNX models (rbr_octas.onnx: built by scripts/build_octas_model.py)."""
