"""``[api]``: the daemon's small HTTP API (health, queues) on the same event loop."""

from __future__ import annotations

import ipaddress

from pydantic import Field, model_validator

from daemon.config.base import Model

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8750"`` / ``"[::1]:8750"`` → (host, port). Raises ValueError."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
    port = int(port_text)
    if not 0 <= port < 65536:  # 0: any free port (tests)
        raise ValueError(f"port out of range in {listen!r}")
    return host.strip("[]"), port


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiSettings(Model):
    """``enabled``, ``listen`` (HOST:PORT) and ``token``: with a token, every write needs
    ``Authorization: Bearer <token>``; listening beyond loopback without one is refused.

    ``allowed_hosts``: host names (no port) clients use to reach the API beyond the listen
    address, ``localhost``, ``127.0.0.1`` and ``::1``; any other ``Host`` header is refused
    (DNS rebinding). ``["*"]`` turns the check off (behind a reverse proxy that checks it).
    ``max_task_range_days``: the longest backfill range a task may ask for (400 beyond).
    ``header_timeout_s``: a connection that has not sent a whole request head (or sits idle
    between requests) this long is closed (slow clients cannot hold descriptors).
    ``map_tile_url``: an optional XYZ tile URL template (``https://…/{z}/{x}/{y}.png``) drawn
    under the dashboard's ISS map for online users (the bundled land outline needs none).
    """

    enabled: bool = True
    listen: str = "127.0.0.1:8750"
    token: str | None = Field(None, min_length=16)
    allowed_hosts: list[str] = Field(default_factory=list)
    max_task_range_days: int = Field(366, ge=1, le=100_000)
    header_timeout_s: float = Field(15.0, gt=0, le=600)
    map_tile_url: str | None = Field(None, pattern=r"^https?://\S*\{z\}\S*\{x\}\S*\{y\}\S*$")

    @model_validator(mode="after")
    def _safe(self) -> ApiSettings:
        host, _port = split_listen(self.listen)
        if not is_loopback(host) and not self.token:
            raise ValueError(f"listen = {self.listen!r} is beyond loopback: set [api] token "
                             "(≥ 16 characters) so writes need it")
        return self


class UploadSettings(Model):
    """``[uploads]``: images posted to ``/api/uploads``.

    ``layout`` fields: ``{t:STRFTIME}`` (upload time, UTC), ``{filename}`` (sanitised, with
    the extension of the detected type), ``{id}`` (a short random id). ``max_concurrent``
    uploads are received at once (503 beyond); each must arrive within ``timeout_s`` (408).
    """

    max_bytes: int = Field(256 << 20, ge=1 << 10)
    max_concurrent: int = Field(4, ge=1, le=64)
    timeout_s: float = Field(600.0, gt=0)
    processors: list[str] = Field(default_factory=lambda: ["vegetation"])
    layout: str = "uploads/{t:%Y}/{t:%m}/{t:%d}/{id}-{filename}"
