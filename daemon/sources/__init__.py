"""Source kinds. Importing this package registers every kind with the registry."""

from daemon.sources import skycam as _skycam  # noqa: F401 - registers "skycam"
from daemon.sources.base import Source, build_source

__all__ = ["Source", "build_source"]
