"""Adding a source kind is one folder (``tests/toy_kind``: config + source) and one registry
line: the kind is then configurable (with file:line errors), schedulable and backfillable
with no other edit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config.load import load_config
from daemon.errors import ConfigError
from daemon.scheduler import Jobs, job_id
from daemon.sources import registry
from tests.conftest import fast_config_head
from tests.fakes.file_server import FileSite
from tests.integration.toy_kind.config import ToySourceConfig
from tests.integration.toy_kind.source import ToySource


@pytest.fixture
def toy_registered() -> Iterator[None]:
    registry.register(registry.SourceKind("toy", ToySourceConfig, ToySource))  # the one line
    yield
    registry.unregister("toy")


def _config(tmp_path: Path, base: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(fast_config_head() + f"""
[sources.toys]
kind = "toy"
base_url = "{base.rstrip('/')}"
count = 4
{extra}""", encoding="utf-8")
    return path


def test_an_unregistered_kind_is_a_config_error_naming_the_known_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "http://127.0.0.1:1"))
    assert "unknown source kind 'toy'" in str(err.value) and "'skycam'" in str(err.value)
    assert "config.toml:" in str(err.value)


def test_a_registered_kind_is_configurable_with_shared_options(toy_registered: None, tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, "http://127.0.0.1:1", "jitter_s = 7"))
    toy = cfg.sources["toys"]
    assert isinstance(toy, ToySourceConfig)
    assert (toy.count, toy.schedule, toy.jitter_s, toy.layout) == (4, "*/5 * * * *", 7, "{source}/{filename}")
    with pytest.raises(ConfigError) as err:  # its own keys get did-you-mean and file:line
        load_config(_config(tmp_path, "http://127.0.0.1:1", "cuont = 2"))
    line = next(i for i, text in enumerate((tmp_path / "config.toml").read_text().splitlines(), 1)
                if text.startswith("cuont"))
    assert f"config.toml:{line}: sources.toys.cuont: unknown key (did you mean count?)" in str(err.value)
    with pytest.raises(ConfigError, match="base_url must start with http"):
        load_config(_config(tmp_path, "ftp://x"))


async def test_a_registered_kind_is_scheduled(toy_registered: None, tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, "http://127.0.0.1:1"))

    async def run(name: str) -> None:
        return None

    jobs = Jobs(run)
    assert jobs.sync(cfg)["added"] == ["toys"]
    job = jobs.scheduler.get_job(job_id("toys"))
    assert job is not None and "*/5" in str(job.trigger)


def test_a_registered_kind_is_backfilled(toy_registered: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import threading

    from tests.conftest import serve_app

    site = FileSite()
    bodies = {n: site.add(f"toy-{n}.bin", 1000 + n) for n in range(4)}
    ready, done = threading.Event(), threading.Event()
    base: list[str] = []

    def serve() -> None:  # the CLI runs its own loop: the imitation host gets a thread and loop
        async def main_async() -> None:
            async with serve_app(site.app()) as url:
                base.append(url)
                ready.set()
                await asyncio.to_thread(done.wait)

        asyncio.run(main_async())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(10)
        config = _config(tmp_path, base[0])
        assert main(["backfill", "toys", "--since", "1", "--until", "3", "--config", str(config)]) == 0
    finally:
        done.set()
        thread.join(10)
    assert "backfill toys: total=3 new=3 duplicates=0 failed=0" in capsys.readouterr().out
    for n in (1, 2, 3):
        assert (tmp_path / "library" / "toys" / f"toy-{n}.bin").read_bytes() == bodies[n]
    assert not (tmp_path / "library" / "toys" / "toy-0.bin").exists()
