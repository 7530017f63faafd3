"""The shared test-config helpers never make a test bind a fixed port (a test must pass
while another process holds 127.0.0.1:8750, harvestd's default API port)."""

from __future__ import annotations

from pathlib import Path

from daemon.config.load import parse_config
from tests.conftest import fast_config_head, skycam_config_text

SOURCE = """
[sources.sky]
kind = "skycam"
url_template = "http://127.0.0.1:1/{t:%H%M}.jpg"
minutes = [0]
latitude = 0
longitude = 0
"""


def _listen_port(text: str, tmp_path: Path) -> int:
    cfg = parse_config(text, tmp_path / "config.toml")
    return int(cfg.api.listen.rpartition(":")[2]) if cfg.api.enabled else 0


def test_fast_config_head_listens_on_a_free_port(tmp_path: Path) -> None:
    for backend in ("builtin", "aria2"):
        assert _listen_port(fast_config_head(backend) + SOURCE, tmp_path) == 0


def test_skycam_config_listens_on_a_free_port(tmp_path: Path) -> None:
    assert _listen_port(skycam_config_text("http://127.0.0.1:1/"), tmp_path) == 0
