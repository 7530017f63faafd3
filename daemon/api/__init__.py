"""The daemon's HTTP API (see :mod:`daemon.api.app`)."""
