"""The component tables of ``config.toml``: ``[daemon]``, ``[store]``, ``[http]``,
``[downloads]`` (and ``[downloads.aria2]``), ``[library]``, ``[worker]``.

Source tables live beside their sources (``sources/<kind>/config.py``), processor tables
beside their processors, ``[api]``/``[uploads]`` in :mod:`daemon.config.api`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from daemon.config.base import Model


class DaemonSettings(Model):
    """``[daemon]``: process-wide settings."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout_s: float = Field(30.0, gt=0, le=600)
    watchdog_max_loop_lag_s: float = Field(5.0, gt=0)
    #: this daemon's name among the nodes sharing one store (leases, runs, heartbeats);
    #: default the host name. Two nodes must never share a name.
    node_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    heartbeat_s: float = Field(10.0, gt=0, le=300)  # how often a node says it is alive


class StoreSettings(Model):
    """``[store]``: the database. SQLite at ``path`` unless ``url`` names a PostgreSQL
    database (``postgresql://user@host:5432/db``; the password from ``PGPASSWORD`` /
    ``~/.pgpass`` or ``${ENV}`` expansion, never written in the file)."""

    path: Path | None = None  # default: {data_dir}/harvest.db
    busy_timeout_ms: int = Field(5000, ge=0)  # SQLite: wait this long for another writer
    url: str | None = None  # postgresql://…: the shared store of N daemons
    pool_size: int = Field(4, ge=1, le=100)  # PostgreSQL connections per process

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0].lower() not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL (leave it out for SQLite at [store] path)")
        return value


class HostLimit(Model):
    """``[http.hosts."HOST"]``: politeness for one host."""

    requests_per_minute: float = Field(gt=0)
    max_concurrent: int = Field(4, ge=1, le=64)


class HttpSettings(Model):
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


class Aria2Settings(Model):
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


class DownloadSettings(Model):
    """``[downloads]``: how discovered items become files in the library.

    ``backend``: ``auto`` uses aria2c when the binary is found, else the built-in aiohttp
    downloader; ``aria2`` requires aria2c. Files are fetched into ``staging_dir`` (default
    ``{library.root}/.partial``) and renamed into the library only once complete and verified.
    Transient failures (timeouts, 5xx, network) are retried up to ``max_attempts`` times with
    exponential backoff from ``retry_backoff_s`` (capped at ``retry_backoff_max_s``).
    """

    backend: Literal["auto", "aria2", "builtin"] = "auto"
    concurrency: int = Field(4, ge=1, le=64)  # built-in downloader: transfers at once
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
        growth: float = 2.0 ** max(0, attempts - 1)
        return min(self.retry_backoff_max_s, self.retry_backoff_s * growth)


class LibrarySettings(Model):
    """``[library]``: where downloaded files are filed.

    ``require_mount``: the root must be a mount point (a NAS share), or nothing is written
    there; ``fallback_root``: where files go while the root is unusable (else downloads pause);
    ``min_free_bytes``: below this much free space the root counts as full (downloads pause
    until space is back, instead of failing item after item with ENOSPC). ``root`` unset:
    ``{data_dir}/library``. ``file_mode`` / ``dir_mode``: permission bits of published files
    and of the folders made for them (TOML ``0o644`` or ``"0644"``; unset: the umask decides),
    e.g. so NAS users outside the ``harvestd`` group can read the images.

    ``url = "s3://BUCKET/PREFIX"``: the library is that bucket (files are uploaded there with
    a SHA-256 checksum and recorded only once S3 confirmed them); ``root`` is then this
    node's local working copy, kept under ``cache_max_bytes``. ``endpoint_url`` / ``region``
    for S3-compatible stores; credentials come from the standard ``AWS_*`` environment
    variables or the instance profile, never from this file.
    """

    root: Path = Path("library")
    url: str | None = None  # s3://bucket/prefix
    endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000 (MinIO, moto); unset: AWS
    region: str | None = None  # unset: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
    cache_max_bytes: int = Field(2 << 30, ge=0)  # S3 library: the local working copy's size
    fallback_root: Path | None = None
    require_mount: bool = False
    min_free_bytes: int = Field(64 << 20, ge=0)
    file_mode: int | None = Field(None, ge=0, le=0o777)
    dir_mode: int | None = Field(None, ge=0, le=0o777)

    @field_validator("url")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", value):
            raise ValueError("must be s3://BUCKET or s3://BUCKET/PREFIX (a valid bucket name)")
        return value.rstrip("/")

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+/?", value):
            raise ValueError("must be http(s)://HOST[:PORT]")
        return value

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


class WorkerSettings(Model):
    """``[worker]``: the DB-polling image worker."""

    threads: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1), ge=1, le=32)
    poll_interval_s: float = Field(2.0, gt=0)
    lease_s: float = Field(120.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    batch: int = Field(8, ge=1, le=256)
    # width × height refused before decoding (uploads 413, downloads and results failed
    # "corrupt"): a decompression bomb must not take the process past the unit's MemoryMax
    max_image_pixels: int = Field(64_000_000, ge=10_000, le=1_000_000_000)
