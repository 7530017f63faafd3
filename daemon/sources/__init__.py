"""Source kinds. Importing this package registers every kind with the registry."""

from daemon.sources import skycam as _skycam  # noqa: F401 - registers "skycam"
from daemon.sources.base import Source, build_source
from daemon.sources.nasa_iss import source as _nasa_iss  # noqa: F401 - registers "nasa_iss"
from daemon.sources.slooh import source as _slooh  # noqa: F401 - registers "slooh"

__all__ = ["Source", "build_source"]
