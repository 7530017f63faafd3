"""``${NAME}`` / ``${NAME:-default}`` in config strings, from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from daemon.errors import ConfigError

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(ConfigError):
    """A ``${NAME}`` without a default whose variable is unset; ``loc`` is the key's path."""

    def __init__(self, loc: tuple[str | int, ...], name: str) -> None:
        self.loc = loc
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        super().__init__(f"{dotted or '<root>'}: environment variable {name} is not set")


def interpolate_env(value: Any, env: Mapping[str, str] | None = None,
                    loc: tuple[str | int, ...] = ()) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of a TOML tree.

    ``env`` defaults to the process environment; ``loc`` is where ``value`` sits in the tree.

    Raises:
        MissingVariable: a referenced variable is unset and has no default (the first one).
    """
    variables: Mapping[str, str] = os.environ if env is None else env
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in variables:
                return variables[name]
            if default is not None:
                return default
            raise MissingVariable(loc, name)

        return _ENV_PATTERN.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate_env(v, variables, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_env(v, variables, (*loc, i)) for i, v in enumerate(value)]
    return value
