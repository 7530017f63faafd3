"""``harvestd pause`` / ``resume``: kept in the database, shown by ``harvestd status``, wrong
requests refused with the reason (exit 2)."""

from __future__ import annotations

import os

import pytest

from tests.procs import cli_runner

pytestmark = pytest.mark.e2e


async def test_pause_and_resume_from_the_command_line(skycam, write_config) -> None:
    _site, base = skycam
    path, _cfg = write_config(base)
    cli = cli_runner(path, {**os.environ, "PYTHONUNBUFFERED": "1"})
    assert await cli("pause", "sky") == (0, "source sky: paused\n", "")
    assert (await cli("pause", "sky"))[1] == "source sky: paused (it already was)\n"
    assert (await cli("pause", "--downloads"))[:2] == (0, "downloads: paused\n")
    code, out, _err = await cli("status")
    assert code == 0 and "downloads: PAUSED since" in out and "sky: schedule PAUSED since" in out
    assert "by cli" in out
    assert (await cli("resume", "sky"))[:2] == (0, "source sky: running\n")
    assert (await cli("resume", "--downloads"))[:2] == (0, "downloads: running\n")
    code, out, _err = await cli("status")
    assert "PAUSED" not in out
    code, _out, err = await cli("pause", "nope")
    assert code == 2 and "unknown source 'nope' (configured: sky)" in err
    code, _out, err = await cli("pause")
    assert code == 2 and "give SOURCE or --downloads" in err
