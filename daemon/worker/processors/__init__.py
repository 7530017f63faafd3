"""Processors run by the image worker (ONNX models, in the CPU pool)."""

from daemon.worker.processors.base import Processor, build_processors

__all__ = ["Processor", "build_processors"]
