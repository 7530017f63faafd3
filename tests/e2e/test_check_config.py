"""``harvestd check-config`` as a subprocess: exit codes, reasons, the download backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.test_config import SKY


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def test_check_config_exit_codes(tmp_path):
    good = tmp_path / "config.toml"
    good.write_text(SKY, encoding="utf-8")
    ok = run_cli("check-config", cwd=tmp_path)  # ./config.toml is the default
    assert ok.returncode == 0 and "OK" in ok.stdout and "sky (skycam)" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(SKY + "bogus = 1\n", encoding="utf-8")
    res = run_cli("check-config", "--config", str(bad), cwd=tmp_path)
    assert res.returncode == 2 and "sources.sky.bogus: unknown key" in res.stderr
    missing = run_cli("check-config", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such config file" in missing.stderr


def test_check_config_names_the_download_backend(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(SKY + '\n[downloads]\nbackend = "aria2"\n[downloads.aria2]\nbinary = "no-such-aria2c"\n',
                      encoding="utf-8")
    res = run_cli("check-config", cwd=tmp_path)
    assert res.returncode == 2 and "'no-such-aria2c' is not on PATH" in res.stderr
    config.write_text(SKY + '\n[downloads]\nbackend = "builtin"\n', encoding="utf-8")
    res = run_cli("check-config", cwd=tmp_path)
    assert res.returncode == 0 and "downloads: builtin;" in res.stdout
