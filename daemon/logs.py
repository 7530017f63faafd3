"""Logging: structlog for our events, the stdlib bridge for aiohttp/apscheduler/aiosqlite.

Formats: ``journal`` (a ``<N>`` syslog-priority prefix, sd-daemon.h, then logfmt
``key=value`` on one line, so ``journalctl -p warning`` filters), ``json`` (one JSON object
per line, also ``<N>``-prefixed under journald), ``logfmt`` and ``console`` (coloured, for
a terminal). ``auto`` picks journal when stderr *is* the journal stream (``$JOURNAL_STREAM``
matches stderr's device:inode, systemd.exec(5)), console on a TTY, logfmt otherwise.
Tracebacks are rendered inside the one line (``\\n`` escaped): one event, one record; in
every format they are plain text without local variables, and pass the secret redaction.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Literal
from urllib.parse import urlsplit

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "journal", "json", "logfmt", "console"]
PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4,
            "info": 6, "debug": 7, "notset": 7}
KEY_ORDER = ["event", "source", "key", "processor"]
SECRET_FIELDS = frozenset({"api_key", "password", "token", "secret", "username"})
REDACTED = "***"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print ``value``: every log line has it replaced by ``***`` (values < 4 chars ignored)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def register_config_secrets(config: object) -> None:
    """Register the values of fields named api_key / password / token / secret / username in the config
    (its sources and their nested models), and the password of a ``[store] url``."""
    store_url = getattr(getattr(config, "store", None), "url", None)
    if store_url:
        with contextlib.suppress(ValueError):
            if password := urlsplit(store_url).password:
                register_secret(password)
    sources = getattr(config, "sources", {}) or {}
    for source in sources.values():
        for name in type(source).model_fields:
            if name in SECRET_FIELDS:
                value = getattr(source, name)
                register_secret(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def _scrub(value: object) -> object:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
    return value


def redact_secrets(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: registered secrets never reach a log line (URLs, errors, tracebacks)."""
    if not _secrets:
        return event_dict
    return {k: _scrub(v) for k, v in event_dict.items()}


def stderr_is_journal() -> bool:
    """True when stderr is connected to journald (``$JOURNAL_STREAM`` = its ``dev:ino``)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class _PriorityPrefix:
    """Wraps a renderer: prepends ``<N>`` (syslog priority of the event's level)."""

    def __init__(self, renderer: Processor) -> None:
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        prio = PRIORITY.get(str(event_dict.get("level", "info")), 6)
        return f"<{prio}>" + str(self._renderer(logger, name, event_dict))


def resolve_format(fmt: LogFormat) -> LogFormat:
    """The concrete format for ``auto`` in this process's environment."""
    if fmt != "auto":
        return fmt
    if stderr_is_journal():
        return "journal"
    return "console" if sys.stderr.isatty() else "logfmt"


def _renderer(fmt: LogFormat) -> Processor:
    journal = stderr_is_journal()
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                             exception_formatter=structlog.dev.plain_traceback)
    if fmt == "json":
        json_renderer = structlog.processors.JSONRenderer(sort_keys=False)
        return _PriorityPrefix(json_renderer) if journal else json_renderer
    logfmt = structlog.processors.LogfmtRenderer(
        key_order=KEY_ORDER, drop_missing=True, bool_as_flag=False
    )
    return _PriorityPrefix(logfmt) if fmt == "journal" else logfmt


class RepeatLimit(logging.Filter):
    """Lets one record of a kind through per ``every_s`` seconds and says how many it held
    back (asyncio logs ``socket.accept() out of system resource`` once per failed accept: a
    descriptor exhaustion wrote 63,000 lines in 10 s)."""

    def __init__(self, prefixes: tuple[str, ...], every_s: float = 60.0) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        kind = next((p for p in self.prefixes if message.startswith(p)), None)
        if kind is None:
            return True
        now = time.monotonic()
        if now - self._last.get(kind, -self.every_s) < self.every_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            record.msg = f"{message} ({held} more like it in the last {self.every_s:.0f} s not shown)"
        return True


ACCEPT_ERRORS = RepeatLimit(("socket.accept() out of system resource",))


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (rich's live display swaps it while a progress
    bar is shown, and prints what is written above the bar)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


STDERR = _CurrentStderr()


def configure_logging(level: str = "info", fmt: LogFormat = "auto") -> LogFormat:
    """Configure structlog and the stdlib root logger to write one line per event to stderr.

    Returns the concrete format chosen.
    """
    fmt = resolve_format(fmt)
    numeric = logging.getLevelName(level.upper())
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        timestamper,
    ]
    # tracebacks become text *before* redaction, in every format: a renderer that formats
    # them itself (rich, with local variables) would print secrets after the redaction step
    exc: list[Processor] = [structlog.processors.format_exc_info]
    renderer = _renderer(fmt)
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *exc, redact_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(STDERR)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exc, redact_secrets,
                        renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if ACCEPT_ERRORS not in logging.getLogger("asyncio").filters:
        logging.getLogger("asyncio").addFilter(ACCEPT_ERRORS)
    root.setLevel(numeric)
    # chatty libraries: keep their warnings, drop per-request info
    for name in ("aiohttp.access", "apscheduler.executors.default", "aiosqlite"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    return fmt
