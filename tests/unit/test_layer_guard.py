"""The unit layer's guard (tests/unit/conftest.py) really refuses network and subprocesses."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.unit.conftest import LayerViolation


def test_the_guard_refuses_network_and_subprocesses() -> None:
    with pytest.raises(LayerViolation):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(LayerViolation):
        subprocess.run(["true"], check=False)
