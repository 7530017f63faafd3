"""Issue 17: a backfill whose library cannot take files ends at once with exit 1 and the
reason; it looped forever before (``aria2_unavailable … Permission denied … .partial``)."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from tests.conftest import skycam_config_text
from tests.integration.downloads.aria2_harness import require_aria2c

# under root, permission bits apply only without CAP_DAC_OVERRIDE (see test_system_install)
UNPRIVILEGED = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


@pytest.mark.parametrize("backend", ["builtin", "aria2"])
@pytest.mark.parametrize("case", ["root not writable", "root cannot be created", "not mounted",
                                  "staging not writable"])
async def test_backfill_into_an_unusable_library_ends_with_the_reason(skycam, tmp_path, backend, case):
    if backend == "aria2":
        require_aria2c()
    _site, base = skycam
    nas = tmp_path / "nas"
    nas.mkdir()
    root = nas / "sky"
    extra = ""
    if case == "root not writable":
        root.mkdir()
        root.chmod(0o555)
    elif case == "root cannot be created":
        nas.chmod(0o555)
    elif case == "staging not writable":  # e.g. made by root in an earlier manual run
        (root / ".partial").mkdir(parents=True)
        (root / ".partial").chmod(0o555)
    else:
        root.mkdir()
        extra = "require_mount = true\n"
    text = skycam_config_text(base, backend).replace('root = "library"\n', f'root = "{root}"\n{extra}', 1)
    assert str(root) in text
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *UNPRIVILEGED, sys.executable, "-m", "daemon", "backfill", "sky", "--since", "2024-06-15T12:00",
        "--until", "2024-06-15T12:59", "--config", str(config), "--no-progress", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    nas.chmod(0o755)
    for folder in (root, root / ".partial"):
        if folder.exists():
            folder.chmod(0o755)
    text_err = err.decode()
    assert proc.returncode == 1, text_err[-2000:]
    assert time.monotonic() - started < 30
    reason = {"root not writable": f"{root} not writable",
              "root cannot be created": f"{root} missing (it cannot be created: {nas} not writable)",
              "not mounted": f"{root} not mounted",
              "staging not writable": f"staging folder {root / '.partial'} not writable"}[case]
    last = text_err.strip().splitlines()[-1]
    assert last.startswith("harvestd backfill: sky: the library cannot take files:") and reason in last, \
        text_err[-2000:]
    assert "Traceback" not in text_err
