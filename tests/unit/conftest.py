"""The unit layer: no network, no subprocess. Each test runs with both refused, so a test
that needs a server or a child process fails here and belongs in tests/integration or
tests/e2e (local AF_UNIX sockets, e.g. the event loop's self-pipe, stay allowed)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


class LayerViolation(AssertionError):
    """A unit test reached for the network or a subprocess."""


def _refuse(what: str) -> Any:
    def refused(*_args: object, **_kwargs: object) -> Any:
        raise LayerViolation(f"unit tests make no {what} (move the test to tests/integration or tests/e2e)")
    return refused


@pytest.fixture(autouse=True)
def _no_network_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect, real_bind = socket.socket.connect, socket.socket.bind

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise LayerViolation(f"unit tests make no network connection (to {address!r})")
        return real_connect(self, address)

    def bind(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise LayerViolation(f"unit tests listen on no network address ({address!r})")
        return real_bind(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "bind", bind)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("subprocess"))
    monkeypatch.setattr(asyncio, "create_subprocess_exec", _refuse("subprocess"))
    monkeypatch.setattr(asyncio, "create_subprocess_shell", _refuse("subprocess"))
    yield

