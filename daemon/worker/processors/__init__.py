"""Processors run by the image worker (ONNX models, in the CPU pool): ``base`` (the
interface), ``kinds`` (config models by kind), ``build`` (instances from configs)."""
