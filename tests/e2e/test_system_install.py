"""Issue 17, "a system install fails as written": the config under /etc with a relative
data_dir, check-config as the service user, the library's default and modes, and
scripts/install.sh end to end (systemd-analyze verify on the installed paths)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config.load import load_config, parse_config
from daemon.errors import ConfigError
from daemon.library.publish import FileModes, publish

ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def world_tmp() -> Iterator[Path]:
    """A temporary folder other users can traverse (pytest's tmp_path is 0700 under root)."""
    folder = Path(tempfile.mkdtemp(prefix="harvestd-install-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Under root the command runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: permission
# bits then apply to it as to a service user (a real other user could not run this test's
# Python, which often lives under /root)
UNPRIVILEGED = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search"] if AS_ROOT else []


def check_config(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "daemon", "check-config", "--config",
                           str(config)], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False, env={**os.environ, **env})


def test_library_defaults_to_data_dir_library(tmp_path):
    cfg = parse_config('data_dir = "/srv/h"\n', tmp_path / "c.toml")
    assert cfg.library.root == Path("/srv/h/library")
    cfg = parse_config('data_dir = "/srv/h"\n[library]\nroot = "lib"\n', tmp_path / "c.toml")
    assert cfg.library.root == tmp_path / "lib"  # a relative root stays relative to the file
    shipped = load_config(ROOT / "config.toml", env={"HARVESTD_DATA_DIR": "/var/lib/harvestd"})
    assert shipped.data_dir == Path("/var/lib/harvestd")
    assert shipped.library.root == Path("/var/lib/harvestd/library")


def test_config_under_a_read_only_etc_is_refused_by_check_config_until_data_dir_is_set(world_tmp):
    """Before: check-config said OK for data_dir = /etc/harvestd/data and run then died with
    PermissionError. Now one line naming the key and the user, exit 2; with the unit's
    HARVESTD_DATA_DIR it is OK."""
    etc = world_tmp / "etc-harvestd"
    etc.mkdir()
    shutil.copy(ROOT / "config.toml", etc / "config.toml")
    (etc / "config.toml").chmod(0o644)
    etc.chmod(0o555)  # root's folder: the service user may read, not write
    res = check_config(etc / "config.toml", {})
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"data_dir: {etc / 'data'} cannot be created: {etc} is not writable by" in res.stderr
    assert "HARVESTD_DATA_DIR" in res.stderr and "Traceback" not in res.stderr
    state = world_tmp / "state"
    state.mkdir()
    res = check_config(etc / "config.toml", {"HARVESTD_DATA_DIR": str(state)})
    assert res.returncode == 0, res.stderr
    assert f"library {state / 'library'}" in res.stdout


def test_an_unwritable_library_is_one_line(world_tmp):
    library = world_tmp / "nas"
    library.mkdir(mode=0o555)
    library.chmod(0o555)
    state = world_tmp / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    config = world_tmp / "config.toml"
    config.write_text(f'data_dir = "{state}"\n[library]\nroot = "{library}"\n')
    res = check_config(config, {})
    assert res.returncode == 2
    user = f"(uid {os.geteuid()})"
    assert res.stderr.strip().endswith(f"library.root: {library} is not writable by "
                                       f"{pwd.getpwuid(os.geteuid()).pw_name} {user}")


@pytest.mark.parametrize("text, error", [
    ('file_mode = "0400"', "would lock harvestd out of its own files"),
    ('dir_mode = "0644"', "would lock harvestd out of its own folders"),
    ('file_mode = "rw-r--r--"', "is not an octal mode"),
    ("file_mode = 0o1777", "less than or equal to 511"),
])
def test_bad_modes_are_config_errors(tmp_path, text, error):
    with pytest.raises(ConfigError, match=error):
        parse_config(f"[library]\n{text}\n", tmp_path / "c.toml")


def test_published_files_and_new_folders_get_the_configured_modes(tmp_path):
    cfg = parse_config('[library]\nfile_mode = "0644"\ndir_mode = 0o755\n', tmp_path / "c.toml")
    modes = FileModes(cfg.library.file_mode, cfg.library.dir_mode)
    old = os.umask(0o077)  # a strict umask must not narrow what the operator asked for
    try:
        root = tmp_path / "lib"
        root.mkdir()
        staged = tmp_path / "a.part"
        staged.write_bytes(b"x")
        landed = publish(staged, root / "sky" / "2025" / "a.jpg", "rename", modes)
        plain = tmp_path / "b.part"
        plain.write_bytes(b"y")
        default = publish(plain, root / "other" / "b.jpg", "rename")
    finally:
        os.umask(old)
    assert stat.S_IMODE(landed.stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "sky").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "sky" / "2025").stat().st_mode) == 0o755
    assert stat.S_IMODE(root.stat().st_mode) == 0o700  # an existing folder is left as it was
    assert stat.S_IMODE(default.stat().st_mode) == 0o600  # no modes: the umask decides
    assert stat.S_IMODE((root / "other").stat().st_mode) == 0o700


def test_install_script_installs_a_unit_that_verifies_and_a_config_that_checks(world_tmp):
    """scripts/install.sh (the README's install steps) into a temporary tree: the unit points
    at the installed paths and passes systemd-analyze verify, the NAS library gets its
    ReadWritePaths= drop-in, owner and modes, and check-config passes as the unit runs it.
    A second run keeps the edited config."""
    if shutil.which("systemd-analyze") is None and os.environ.get("CI"):
        pytest.fail("systemd-analyze is missing in CI (install the 'systemd' package)")
    user = pwd.getpwuid(os.geteuid()).pw_name
    paths = {"PREFIX": world_tmp / "opt", "CONF_DIR": world_tmp / "etc", "UNIT_DIR": world_tmp / "units",
             "STATE_DIR": world_tmp / "state", "LIBRARY": world_tmp / "nas" / "sky"}
    env = {**os.environ, **{k: str(v) for k, v in paths.items()}, "SERVICE_USER": user,
           "VENV_FROM": sys.prefix, "FILE_MODE": "0644", "DIR_MODE": "0755", "START": "no"}
    res = subprocess.run([str(ROOT / "scripts" / "install.sh")], capture_output=True, text=True,
                         timeout=120, env=env, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "check-config" not in res.stderr and ": OK;" in res.stdout
    if shutil.which("systemd-analyze"):
        assert "systemd-analyze verify: ok" in res.stdout
    unit = (paths["UNIT_DIR"] / "harvestd.service").read_text()
    config = paths["CONF_DIR"] / "config.toml"
    assert f"ExecStart={paths['PREFIX']}/.venv/bin/harvestd run --config {config}" in unit
    assert f"User={user}" in unit and "Environment=HARVESTD_DATA_DIR=%S/harvestd" in unit
    drop_in = paths["UNIT_DIR"] / "harvestd.service.d" / "library.conf"
    assert drop_in.read_text() == f"[Service]\nReadWritePaths={paths['LIBRARY']}\n"
    assert paths["LIBRARY"].stat().st_uid == os.geteuid()
    cfg = load_config(paths["CONF_DIR"] / "config.toml", env={"HARVESTD_DATA_DIR": str(paths["STATE_DIR"])})
    assert cfg.library.root == paths["LIBRARY"]
    assert (cfg.library.file_mode, cfg.library.dir_mode) == (0o644, 0o755)
    assert cfg.db_path == paths["STATE_DIR"] / "harvest.db"
    assert stat.S_IMODE((paths["CONF_DIR"] / "config.toml").stat().st_mode) == 0o640
    # an operator's edit survives a re-run of the script
    edited = config.read_text().replace('log_level = "info"', 'log_level = "debug"')
    config.write_text(edited)
    again = subprocess.run([str(ROOT / "scripts" / "install.sh")], capture_output=True, text=True,
                           timeout=120, env=env, check=False)
    assert again.returncode == 0 and "kept the existing" in again.stdout, again.stdout + again.stderr
    assert config.read_text() == edited
