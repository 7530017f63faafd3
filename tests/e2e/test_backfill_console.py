"""Issue 17, "the backfill console": on a terminal the bars stay at the bottom, log lines
print above them (never glued to a bar), only warnings and errors are logged under them, and
the bars advance item by item. The backfill runs on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import sys

from tests.conftest import skycam_config_text

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def run_on_a_terminal(args: list[str], cwd, timeout_s: float = 90) -> tuple[int, str]:
    """Run ``python -m daemon ARGS`` with stdin/stdout/stderr on a pty; (exit status, output)."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "daemon", *args, cwd=cwd,
                                                stdin=slave, stdout=slave, stderr=slave,
                                                env={**os.environ, "COLUMNS": "160", "TERM": "xterm"})
    os.close(slave)
    chunks: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                if proc.returncode is not None:
                    break
                await asyncio.sleep(0.02)
                continue
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    return status, b"".join(chunks).decode("utf-8", "replace")


def screen_lines(output: str) -> list[str]:
    """What each write left on a line: ANSI codes dropped, split at newlines and carriage returns."""
    return [line for line in re.split(r"[\r\n]+", ANSI.sub("", output)) if line.strip()]


async def test_bars_stay_below_the_log_lines_and_advance_per_item(skycam, tmp_path):
    site, base = skycam
    site.latency_s = 0.3
    site.unavailable["2024-06-15T12:22"] = 10**6  # always 503: warnings while the bars are shown
    config = tmp_path / "config.toml"
    config.write_text(skycam_config_text(base), encoding="utf-8")
    status, output = await run_on_a_terminal(
        ["backfill", "sky", "--since", "2024-06-15T11:00", "--until", "2024-06-15T12:59", "--config",
         str(config)], cwd=tmp_path)
    lines = screen_lines(output)
    assert status == 0, output[-3000:]
    assert "backfill sky: total=12 new=11 duplicates=0 failed=1" in lines
    warnings = [ln for ln in lines if "download_failed" in ln or "download_retry" in ln]
    assert warnings, output[-3000:]
    for line in warnings:  # never glued to a bar
        assert "━" not in line and "fetched" not in line, line
    assert not any("download_backend" in ln or "harvest_enqueued" in ln for ln in lines)  # info: not shown
    fetched = {int(m.group(1)) for ln in lines for m in re.finditer(r"backfill fetched.*?(\d+)/12", ln)}
    settled = {int(m.group(1)) for ln in lines for m in re.finditer(r"settled.*?(\d+)/12", ln)}
    assert any(0 < n < 11 for n in fetched), sorted(fetched)  # it moved item by item, not 0 → 12
    assert settled and max(settled) >= 11
    assert any("new " in ln and "duplicates " in ln and "failed " in ln for ln in lines)
