"""systemd notification protocol (sd_notify(3)): READY, RELOADING, STOPPING, STATUS, WATCHDOG.

Every function is a no-op returning False when ``$NOTIFY_SOCKET`` is unset (not under
systemd). Socket addresses starting with ``@`` are in the Linux abstract namespace.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger("daemon.notify")


def sd_notify(*assignments: str) -> bool:
    """Send ``KEY=VALUE`` lines as one datagram to ``$NOTIFY_SOCKET``; False if unset/failed."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except OSError as exc:
        log.warning("sd_notify_failed", error=str(exc))
        return False
    return True


def ready(status: str) -> bool:
    """Startup or reload finished."""
    return sd_notify("READY=1", f"STATUS={status}")


def reloading() -> bool:
    """A reload started (``MONOTONIC_USEC`` is CLOCK_MONOTONIC in µs, systemd ≥ 253)."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return sd_notify("RELOADING=1", f"MONOTONIC_USEC={usec}")


def stopping(status: str = "stopping") -> bool:
    """Shutdown started."""
    return sd_notify("STOPPING=1", f"STATUS={status}")


def status(text: str) -> bool:
    """One line shown by ``systemctl status``."""
    return sd_notify(f"STATUS={text}")


def watchdog_interval_s() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds when the watchdog is on for this process, else None.

    sd_watchdog_enabled(3): ping "every half of the time returned here"; ``$WATCHDOG_PID``,
    when set, must be our pid.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


def child_environment() -> dict[str, str]:
    """This process's environment minus the systemd notify/watchdog variables (for children)."""
    drop = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}
    return {k: v for k, v in os.environ.items() if k not in drop}
