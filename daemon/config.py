"""Configuration: TOML loading, ``${ENV}`` interpolation, pydantic validation, config diffs.

The file is read with :mod:`tomllib`, every string value has ``${NAME}`` (or
``${NAME:-default}``) replaced from the environment, then the tree is validated by
:class:`Config`. Unknown keys are errors (``extra="forbid"``); every error names its dotted
key and, where the key can be found in the file, ``file:line``. Relative paths resolve
against the folder holding the config file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from daemon.config_api import ApiSettings, UploadSettings
from daemon.config_base import _Model
from daemon.config_errors import closest_key
from daemon.config_nasa import NasaIssSourceConfig
from daemon.config_skycam import SkycamSourceConfig
from daemon.config_slooh import SloohSourceConfig
from daemon.config_vegetation import VegetationConfig

DEFAULT_CONFIG_PATHS = (Path("config.toml"), Path("/etc/harvestd/config.toml"))
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """An invalid or unreadable configuration; ``str()`` is the one-line reason(s)."""


class DaemonSettings(_Model):
    """``[daemon]``: process-wide settings."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout_s: float = Field(30.0, gt=0, le=600)
    watchdog_max_loop_lag_s: float = Field(5.0, gt=0)


class StoreSettings(_Model):
    """``[store]``: the SQLite database."""

    path: Path | None = None  # default: {data_dir}/harvest.db
    busy_timeout_ms: int = Field(5000, ge=0)


class HostLimit(_Model):
    """``[http.hosts."HOST"]``: politeness for one host."""

    requests_per_minute: float = Field(gt=0)
    max_concurrent: int = Field(4, ge=1, le=64)


class HttpSettings(_Model):
    """``[http]``: the shared client, retry policy and per-host rate limits."""

    user_agent: str = "harvestd/0.1 (+https://github.com/harvestd/harvestd)"
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_initial_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    retry_timeout_s: float = Field(300.0, gt=0)
    max_retry_after_s: float = Field(600.0, ge=0)
    default_requests_per_minute: float | None = Field(None, gt=0)
    limit_per_host: int = Field(8, ge=1, le=256)
    # keys: a host name (any port) or "host:port" (that port only), case-insensitive
    hosts: dict[str, HostLimit] = Field(default_factory=dict)

    @field_validator("hosts")
    @classmethod
    def _lower_case_hosts(cls, hosts: dict[str, HostLimit]) -> dict[str, HostLimit]:
        lowered: dict[str, HostLimit] = {}
        for name, limit in hosts.items():
            key = name.strip().lower()
            if key in lowered:
                raise ValueError(f"host {name!r} is named twice (host names are case-insensitive)")
            lowered[key] = limit
        return lowered


class Aria2Settings(_Model):
    """``[downloads.aria2]``: the supervised aria2c child (aria2c(1) manual, "Options").

    Names map to aria2c options (``split`` → ``--split``); sizes and rates carry their unit.
    """

    binary: str = "aria2c"  # a name looked up on $PATH, or an absolute path
    max_concurrent_downloads: int = Field(5, ge=1, le=256)
    split: int = Field(4, ge=1, le=64)
    max_connection_per_server: int = Field(4, ge=1, le=16)
    min_split_size_mib: int = Field(20, ge=1, le=1024)
    max_overall_download_bytes_per_s: int = Field(0, ge=0)  # 0 = unlimited
    max_download_bytes_per_s: int = Field(0, ge=0)  # per download; 0 = unlimited
    file_allocation: Literal["none", "prealloc", "trunc", "falloc"] = "none"
    disk_cache_mib: int = Field(16, ge=0, le=1024)
    max_tries: int = Field(3, ge=1, le=20)  # aria2c's own quick retries within one attempt
    retry_wait_s: int = Field(2, ge=0, le=600)
    timeout_s: int = Field(60, ge=1, le=600)
    connect_timeout_s: int = Field(30, ge=1, le=600)
    save_session_interval_s: int = Field(30, ge=1, le=3600)
    auto_save_interval_s: int = Field(5, ge=1, le=600)  # .aria2 control file refresh
    queue_depth: int = Field(0, ge=0, le=10000)  # items handed to aria2c at once; 0 = auto
    reconcile_interval_s: float = Field(5.0, gt=0, le=300)
    rpc_timeout_s: float = Field(15.0, gt=0, le=300)
    restart_backoff_max_s: float = Field(60.0, gt=0, le=3600)

    @property
    def effective_queue_depth(self) -> int:
        """Items in aria2c's queue at once (active + waiting)."""
        return self.queue_depth or max(32, 10 * self.max_concurrent_downloads)


class DownloadSettings(_Model):
    """``[downloads]``: how discovered items become files in the library.

    ``backend``: ``auto`` uses aria2c when the binary is found, else the built-in aiohttp
    downloader; ``aria2`` requires aria2c. Files are fetched into ``staging_dir`` (default
    ``{library.root}/.partial``) and renamed into the library only once complete and verified.
    Transient failures (timeouts, 5xx, network) are retried up to ``max_attempts`` times with
    exponential backoff from ``retry_backoff_s`` (capped at ``retry_backoff_max_s``).
    """

    backend: Literal["auto", "aria2", "builtin"] = "auto"
    concurrency: int = Field(4, ge=1, le=64)  # built-in downloader only
    lease_s: float = Field(300.0, gt=0)
    poll_interval_s: float = Field(2.0, gt=0)
    on_existing: Literal["skip", "overwrite", "rename"] = "skip"
    set_mtime: bool = True  # a downloaded file's modification time = the item's capture time (UTC)
    verify_images: bool = True
    staging_dir: Path | None = None
    max_attempts: int = Field(5, ge=1, le=100)
    retry_backoff_s: float = Field(60.0, ge=0)
    retry_backoff_max_s: float = Field(3600.0, ge=0)
    aria2: Aria2Settings = Field(default_factory=Aria2Settings)

    def retry_delay_s(self, attempts: int) -> float:
        """Backoff before attempt ``attempts + 1``: base × 2^(attempts−1), capped."""
        return min(self.retry_backoff_max_s, self.retry_backoff_s * 2 ** max(0, attempts - 1))


class LibrarySettings(_Model):
    """``[library]``: where downloaded files are filed.

    ``require_mount``: the root must be a mount point (a NAS share), or nothing is written
    there; ``fallback_root``: where files go while the root is unusable (else downloads pause);
    ``min_free_bytes``: below this much free space the root counts as full (downloads pause
    until space is back, instead of failing item after item with ENOSPC). ``root`` unset:
    ``{data_dir}/library``. ``file_mode`` / ``dir_mode``: permission bits of published files
    and of the folders made for them (TOML ``0o644`` or ``"0644"``; unset: the umask decides),
    e.g. so NAS users outside the ``harvestd`` group can read the images.
    """

    root: Path = Path("library")
    fallback_root: Path | None = None
    require_mount: bool = False
    min_free_bytes: int = Field(64 << 20, ge=0)
    file_mode: int | None = Field(None, ge=0, le=0o777)
    dir_mode: int | None = Field(None, ge=0, le=0o777)

    @field_validator("file_mode", "dir_mode", mode="before")
    @classmethod
    def _octal(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return int(value.removeprefix("0o"), 8)
            except ValueError:
                raise ValueError(f"{value!r} is not an octal mode such as \"0644\"") from None
        return value

    @field_validator("file_mode", "dir_mode")
    @classmethod
    def _owner_keeps_access(cls, value: int | None, info: ValidationInfo) -> int | None:
        needed, what = (0o600, "files") if info.field_name == "file_mode" else (0o700, "folders")
        if value is not None and value & needed != needed:
            raise ValueError(f"{value:#o} would lock harvestd out of its own {what} (needs {needed:#o})")
        return value


class WorkerSettings(_Model):
    """``[worker]``: the DB-polling image worker."""

    threads: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1), ge=1, le=32)
    poll_interval_s: float = Field(2.0, gt=0)
    lease_s: float = Field(120.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    batch: int = Field(8, ge=1, le=256)
    # width × height refused before decoding (uploads 413, downloads and results failed
    # "corrupt"): a decompression bomb must not take the process past the unit's MemoryMax
    max_image_pixels: int = Field(64_000_000, ge=10_000, le=1_000_000_000)


class SkyMask(_Model):
    """Sky mask of a fisheye frame, in pixels of the full-size image.

    ``auto``: the bright disc is found from the dark border; failing that, the inscribed
    circle. ``horizon_cut_deg`` is the largest zenith angle kept (equidistant lens model:
    the circle edge is 90°).
    """

    center_x: float | None = None
    center_y: float | None = None
    radius: float | None = Field(None, gt=0)
    horizon_cut_deg: float = Field(80.0, gt=0, le=90)

    @model_validator(mode="after")
    def _all_or_none(self) -> SkyMask:
        given = [v is not None for v in (self.center_x, self.center_y, self.radius)]
        if any(given) and not all(given):
            raise ValueError("set center_x, center_y and radius together, or none for auto")
        return self


class ProcessorConfig(_Model):
    """``[processors.NAME]``: one configured processor (``kind`` defaults to NAME).

    For ``kind = "octas"``: ``threshold`` is the red/blue ratio at or above which a pixel
    is cloud; ``model`` replaces the shipped RBR baseline with a user's ONNX classifier
    whose ``labels`` are octas values ``"0"`` … ``"8"``.
    """

    kind: Literal["octas"] = "octas"
    threshold: float = Field(0.6, gt=0, le=5)
    noise_tolerance: float = Field(0.0, ge=0, lt=0.5)
    night_sun_elevation_deg: float = Field(-6.0, ge=-18, le=10)
    max_side_px: int = Field(640, ge=64, le=8192)
    mask: SkyMask = Field(default_factory=SkyMask)
    model: Path | None = None
    labels: list[str] | None = None
    input_size: tuple[int, int] | None = None
    input_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    input_std: tuple[float, float, float] = (255.0, 255.0, 255.0)

    @model_validator(mode="after")
    def _model_needs_labels(self) -> ProcessorConfig:
        if self.model is not None and (not self.labels or self.input_size is None):
            raise ValueError("a custom 'model' needs 'labels' and 'input_size' = [W, H]")
        if self.labels:
            for label in self.labels:
                if not (label.isdigit() and 0 <= int(label) <= 8):
                    raise ValueError(f"label {label!r} is not an octas value 0..8")
        return self


SourceConfig = Annotated[SkycamSourceConfig | NasaIssSourceConfig | SloohSourceConfig,
                         Field(discriminator="kind")]
SOURCE_KINDS = ("skycam", "nasa_iss", "slooh")
PROCESSOR_KINDS = ("octas", "vegetation")
BUILTIN_PROCESSORS = ("octas", "vegetation")  # usable without a [processors.NAME] table
AnyProcessorConfig = Annotated[ProcessorConfig | VegetationConfig, Field(discriminator="kind")]


class Config(_Model):
    """The whole ``config.toml``. Paths are absolute after :func:`load_config`."""

    data_dir: Path = Path("data")
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    downloads: DownloadSettings = Field(default_factory=DownloadSettings)
    library: LibrarySettings = Field(default_factory=LibrarySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    processors: dict[str, AnyProcessorConfig] = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    @field_validator("processors", mode="before")
    @classmethod
    def _kind_defaults_to_name(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {name: ({"kind": name, **table} if isinstance(table, dict) and "kind" not in table
                           else table) for name, table in v.items()}
        return v

    @model_validator(mode="after")
    def _processors_exist(self) -> Config:
        for name, src in self.sources.items():
            for proc in src.processors:
                if proc not in self.processors and proc not in BUILTIN_PROCESSORS:
                    raise ValueError(
                        f"sources.{name}.processors: unknown processor {proc!r} "
                        f"(define [processors.{proc}])"
                    )
        for proc in self.uploads.processors:
            if proc not in self.processors and proc not in BUILTIN_PROCESSORS:
                raise ValueError(f"uploads.processors: unknown processor {proc!r} (define [processors.{proc}])")
        return self

    @property
    def db_path(self) -> Path:
        """The SQLite file: ``[store] path`` or ``{data_dir}/harvest.db``."""
        return self.store.path or self.data_dir / "harvest.db"

    def processor(self, name: str) -> ProcessorConfig | VegetationConfig:
        """The processor config for ``name`` (built-in defaults when not configured)."""
        configured = self.processors.get(name)
        if configured is not None:
            return configured
        return VegetationConfig(kind="vegetation") if name == "vegetation" else ProcessorConfig(kind="octas")


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


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.\-"]+)\s*=')


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|([^.\s]+)', key)
    return [a or b for a, b in parts]


def locate_key(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort 1-based line of the dotted key ``loc`` in TOML ``text`` (None if absent)."""
    want = [str(p) for p in loc if not isinstance(p, int)]
    best: tuple[int, int] | None = None
    table: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            path = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = table + _split_dotted(key.group(1))
        n = len(path)
        if n <= len(want) and path == want[:n] and (best is None or n > best[0]):
            best = (n, lineno)
    return best[1] if best else None


def _resolve_paths(cfg: Config, base: Path) -> Config:
    def absolute(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    data_dir = absolute(cfg.data_dir)
    processors = {
        name: p.model_copy(update={"model": absolute(p.model)}) if isinstance(p, ProcessorConfig) and p.model
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
    return cfg.model_copy(
        update={"data_dir": data_dir, "processors": processors, "store": store, "library": library,
                "downloads": downloads}
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
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            kinds = SOURCE_KINDS + PROCESSOR_KINDS
            if len(loc) > 3 and loc[0] in ("sources", "processors") and loc[2] in kinds:
                loc = loc[:2] + loc[3:]  # drop the discriminator pydantic adds: sources.NAME.KIND.key
            dotted = ".".join(str(p) for p in loc) or "<root>"
            line = locate_key(text, loc)
            where = f"{path}:{line}" if line else str(path)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                guess = closest_key(Config, tuple(err["loc"]))
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


def changed_sections(old: Config, new: Config) -> set[str]:
    """Top-level keys (and ``sources.NAME`` / ``processors.NAME``) whose values differ."""
    changed: set[str] = set()
    for field in Config.model_fields:
        a, b = getattr(old, field), getattr(new, field)
        if field in ("sources", "processors"):
            for name in set(a) | set(b):
                if a.get(name) != b.get(name):
                    changed.add(f"{field}.{name}")
        elif a != b:
            changed.add(field)
    return changed
