"""Config: validation errors name key and line, env interpolation, paths, check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config.diff import changed_sections
from daemon.config.load import load_config, parse_config
from daemon.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SKY = """
[sources.sky]
kind = "skycam"
url_template = "http://cam.example/image/{year_dir}{t:%Y}-{t:%m%d%H%M}.jpg"
minutes = [2, 12]
latitude = -31.42
longitude = -64.19
"""


def test_shipped_config_is_valid_and_paths_resolve_against_its_folder():
    cfg = load_config(ROOT / "config.toml", env={})
    assert cfg.data_dir == ROOT / "data"
    assert cfg.db_path == ROOT / "data" / "harvest.db"
    assert cfg.library.root == ROOT / "data" / "library"
    sky = cfg.sources["sky"]
    assert sky.minutes == [2, 12, 22, 32, 42, 52] and sky.timezone == "America/Argentina/Cordoba"
    assert cfg.processor("octas").threshold == 0.6


def test_unknown_key_is_an_error_with_file_and_line(tmp_path):
    text = SKY + "minutess = [1]\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "c.toml")
    assert str(err.value) == \
        f"{tmp_path / 'c.toml'}:8: sources.sky.minutess: unknown key (did you mean minutes?)"


def test_bad_values_name_each_key(tmp_path):
    text = SKY.replace("minutes = [2, 12]", "minutes = [2, 75]").replace("-31.42", "-131.42")
    text += 'schedule = "every ten minutes"\ntimezone = "Mars/Olympus"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "c.toml")
    lines = str(err.value).splitlines()
    assert any(":5: sources.sky.minutes.1: Input should be less than or equal to 59" in ln for ln in lines)
    assert any(":6: sources.sky.latitude:" in ln for ln in lines)
    assert any("sources.sky.schedule: invalid cron expression 'every ten minutes'" in ln for ln in lines)
    assert any("sources.sky.timezone: unknown time zone 'Mars/Olympus'" in ln for ln in lines)


def test_env_interpolation_and_missing_variable(tmp_path):
    text = 'data_dir = "${DATA:-fallback}"\n[http]\nuser_agent = "bot ${WHO}"\n'
    cfg = parse_config(text, tmp_path / "c.toml", env={"WHO": "me"})
    assert cfg.http.user_agent == "bot me" and cfg.data_dir == tmp_path / "fallback"
    with pytest.raises(ConfigError, match=r"http.user_agent: environment variable WHO is not set"):
        parse_config(text, tmp_path / "c.toml", env={})


def test_toml_syntax_error_and_unknown_processor(tmp_path):
    with pytest.raises(ConfigError, match="TOML syntax error"):
        parse_config("data_dir = ", tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="unknown processor 'ndvi'"):
        parse_config(SKY + 'processors = ["ndvi"]\n', tmp_path / "c.toml")


def test_url_template_must_render(tmp_path):
    with pytest.raises(ConfigError, match="url_template does not render"):
        parse_config(SKY.replace("{year_dir}", "{yeardir}"), tmp_path / "c.toml")


def test_changed_sections_lists_what_differs(tmp_path):
    a = parse_config(SKY, tmp_path / "c.toml")
    b = parse_config(SKY.replace("[2, 12]", "[2]") + "\n[http]\nmax_attempts = 2\n", tmp_path / "c.toml")
    assert changed_sections(a, b) == {"sources.sky", "http"}
    assert changed_sections(a, a) == set()


SLOOH = """
[sources.slooh]
kind = "slooh"
username = "${SLOOH_USERNAME}"
password = "${SLOOH_PASSWORD}"
"""


def test_slooh_defaults_and_bad_values(tmp_path):
    env = {"SLOOH_USERNAME": "ada@example.org", "SLOOH_PASSWORD": "s3cret-pass"}
    src = parse_config(SLOOH, tmp_path / "c.toml", env=env).sources["slooh"]
    assert (src.base_url, src.formats, src.duplicates, src.page_size) == (
        "https://app.slooh.com", ["png", "fits"], None, 50)
    assert src.layout == "{object}/{telescope}/{format}/{telescope}_{filename}"
    bad = SLOOH + 'formats = ["jpg"]\nduplicates = "keep"\nbase_url = "app.slooh.com"\npage_size = 0\n'
    with pytest.raises(ConfigError) as err:
        parse_config(bad, tmp_path / "c.toml", env=env)
    text = str(err.value)
    assert ":6: sources.slooh.formats.0: Input should be 'png' or 'fits'" in text
    assert ":7: sources.slooh.duplicates: Input should be 'skip', 'overwrite' or 'rename'" in text
    assert ":8: sources.slooh.base_url: base_url must start with http:// or https://" in text
    assert ":9: sources.slooh.page_size: Input should be greater than or equal to 1" in text
    with pytest.raises(ConfigError, match=r"sources\.slooh\.password: environment variable SLOOH_PASSWORD"):
        parse_config(SLOOH, tmp_path / "c.toml", env={"SLOOH_USERNAME": "x"})


def test_slooh_layout_must_render(tmp_path):
    env = {"SLOOH_USERNAME": "u", "SLOOH_PASSWORD": "p"}
    with pytest.raises(ConfigError, match=r"sources\.slooh\.layout: .*does not render"):
        parse_config(SLOOH + 'layout = "{object}/{camera}/{filename}"\n', tmp_path / "c.toml", env=env)
    with pytest.raises(ConfigError, match=r"sources\.slooh\.layout: .*unsafe path"):
        parse_config(SLOOH + 'layout = "/{filename}"\n', tmp_path / "c.toml", env=env)
    ok = parse_config(SLOOH + 'layout = "{year}/{month}/{object}/{image_id}-{filename}"\n', tmp_path / "c.toml",
                      env=env)
    assert ok.sources["slooh"].layout.startswith("{year}")


def test_nasa_layout_must_render(tmp_path):
    text = '[sources.iss]\nkind = "nasa_iss"\napi_key = "k"\nlayout = "{year}/{photo}/{filename}"\n'
    with pytest.raises(ConfigError, match=r":4: sources\.iss\.layout: .*does not render"):
        parse_config(text, tmp_path / "c.toml", env={})


def test_a_missing_environment_variable_names_file_line_and_key(tmp_path):
    """Issue 17: it named the key but not the file:line, unlike every other error."""
    text = SKY + '[http]\nuser_agent = "harvestd (${WHO})"\n[http.hosts."201.251.63.225"]\n' \
        'requests_per_minute = 5\n[sources.slooh]\nkind = "slooh"\nusername = "${SLOOH_USERNAME}"\n' \
        'password = "${SLOOH_PASSWORD}"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "c.toml", env={"SLOOH_USERNAME": "u"})
    assert str(err.value) == (f"{tmp_path / 'c.toml'}:9: http.user_agent: environment variable WHO is not set\n"
                              f"{tmp_path / 'c.toml'}:15: sources.slooh.password: environment variable "
                              "SLOOH_PASSWORD is not set")


@pytest.mark.parametrize("text, line, expected", [
    (SKY + "lookback = 3600\n", 8, "sources.sky.lookback: unknown key (did you mean lookback_s?)"),
    (SKY + "minutess = [1]\n", 8, "sources.sky.minutess: unknown key (did you mean minutes?)"),
    ("[downloads]\nbakend = 'builtin'\n", 2, "downloads.bakend: unknown key (did you mean backend?)"),
    ("[downloads.aria2]\nsplits = 2\n", 2, "downloads.aria2.splits: unknown key (did you mean split?)"),
    ("[processors.veg]\nkind = 'vegetation'\nbandz = {red = 1, nir = 2}\n", 3,
     "processors.veg.bandz: unknown key (did you mean bands?)"),
    ("[processors.octas]\ntreshold = 0.5\n", 2,  # no kind: the table's name is its kind
     "processors.octas.treshold: unknown key (did you mean threshold?)"),
    ("datadir = 'x'\n", 1, "datadir: unknown key (did you mean data_dir?)"),
    (SKY + "zzz = 1\n", 8, "sources.sky.zzz: unknown key"),  # nothing close: no guess
])
def test_an_unknown_key_suggests_the_closest_known_one(tmp_path, text, line, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "c.toml")
    assert str(err.value) == f"{tmp_path / 'c.toml'}:{line}: {expected}"


@pytest.mark.parametrize("name", ["geo:7", "my sky", "a/b", ""])
def test_a_source_name_must_be_plain(tmp_path, name):
    text = f'[sources."{name}"]\nkind = "skycam"\nurl_template = "http://x/{{t:%Y}}.jpg"\nminutes = [2]\n'
    with pytest.raises(ConfigError, match="use letters, digits"):
        parse_config(text, tmp_path / "c.toml")


def test_a_user_geo_model_cannot_take_a_builtin_name_and_needs_one_value_per_band(tmp_path):
    with pytest.raises(ConfigError, match="'ndvi' is a built-in model"):
        parse_config('[models.ndvi]\npath = "m.onnx"\nbands = ["B04"]\nmean = [0]\nstd = [1]\n',
                     tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="one value per band"):
        parse_config('[models.flood]\npath = "m.onnx"\nbands = ["B04", "B08"]\nmean = [0]\nstd = [1, 1]\n',
                     tmp_path / "c.toml")
    cfg = parse_config('[models.flood]\npath = "m.onnx"\nbands = ["B04"]\nmean = [0.1]\nstd = [0.2]\n',
                       tmp_path / "c.toml")
    assert cfg.models["flood"].path == (tmp_path / "m.onnx").resolve()  # beside the config, like every path
