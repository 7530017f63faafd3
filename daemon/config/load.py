"""Loading ``config.toml``: TOML, ``${ENV}``, validation, ``file:line`` errors, absolute paths.

The file is read with :mod:`tomllib`, every string value has ``${NAME}`` (or
``${NAME:-default}``) replaced from the environment (:mod:`daemon.config.env`), then the
tree is validated by :class:`~daemon.config.root.Config`. Unknown keys are errors; every
error names its dotted key and, where the key can be found in the file, ``file:line``
(:mod:`daemon.config.locate`). Relative paths resolve against the config file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from daemon.config.env import MissingVariable, interpolate_env
from daemon.config.locate import closest_key, locate_key
from daemon.config.root import Config, processor_kinds_named
from daemon.errors import ConfigError
from daemon.worker.processors.octas_config import OctasConfig

DEFAULT_CONFIG_PATHS = (Path("config.toml"), Path("/etc/harvestd/config.toml"))


def _interpolate_all(raw: dict[str, Any], text: str, path: Path, env: Mapping[str, str] | None) -> Any:
    """:func:`interpolate_env` over the tree, reporting every unset variable with file:line."""
    problems: list[tuple[int, str]] = []

    def walk(value: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        try:
            return interpolate_env(value, env, loc)
        except MissingVariable as exc:
            line = locate_key(text, exc.loc)
            problems.append((line or 0, f"{path}:{line}: {exc}" if line else f"{path}: {exc}"))
            return value

    result = walk(raw, ())
    if problems:
        raise ConfigError("\n".join(line for _, line in sorted(problems)))
    return result


def _resolve_paths(cfg: Config, base: Path) -> Config:
    def absolute(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    data_dir = absolute(cfg.data_dir)
    processors = {
        name: p.model_copy(update={"model": absolute(p.model)}) if isinstance(p, OctasConfig) and p.model
        else p
        for name, p in cfg.processors.items()
    }
    store = cfg.store.model_copy(update={"path": absolute(cfg.store.path)} if cfg.store.path else {})
    library = cfg.library.model_copy(update={
        "root": absolute(cfg.library.root) if "root" in cfg.library.model_fields_set else data_dir / "library",
        "fallback_root": absolute(cfg.library.fallback_root) if cfg.library.fallback_root else None,
    })
    staging = absolute(cfg.downloads.staging_dir) if cfg.downloads.staging_dir else None
    downloads = cfg.downloads.model_copy(update={"staging_dir": staging})
    models = {name: m.model_copy(update={"path": absolute(m.path)}) for name, m in cfg.models.items()}
    return cfg.model_copy(
        update={"data_dir": data_dir, "processors": processors, "store": store, "library": library,
                "downloads": downloads, "models": models}
    )


def parse_config(text: str, path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Validate TOML ``text`` read from ``path``.

    Raises:
        ConfigError: with one line per problem, each ``file:line: key: reason``.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    raw = _interpolate_all(raw, text, path, env)
    # the tree as validation sees it (a processor table's kind defaults to its name), for hints
    hints = raw
    if isinstance(raw, dict) and "processors" in raw:
        hints = {**raw, "processors": processor_kinds_named(raw["processors"])}
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc) or "<root>"
            line = locate_key(text, loc)
            where = f"{path}:{line}" if line else str(path)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                guess = closest_key(Config, loc, hints)
                msg = f"unknown key (did you mean {guess}?)" if guess else "unknown key"
            lines.append(f"{where}: {dotted}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    return _resolve_paths(cfg, path.resolve().parent)


def find_config(explicit: Path | None) -> Path:
    """The config path: ``explicit``, else ``./config.toml``, else ``/etc/harvestd/config.toml``.

    Raises:
        ConfigError: no such file.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such config file")
        return explicit
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(p) for p in DEFAULT_CONFIG_PATHS)
    raise ConfigError(f"no config file found (tried {tried}); pass --config PATH")


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``. Blocking (small file): call via a thread inside the loop.

    Raises:
        ConfigError: unreadable file or invalid content.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, path, env)
