"""The S3 library (``[library] url = "s3://BUCKET/PREFIX"``), through obstore.

Why obstore: a native async client (no thread per request), multipart uploads built in
(parts in parallel, the upload aborted when a part fails), the SHA-256 checksum header on
every request (``x-amz-checksum-sha256``, which S3 verifies, besides the signed payload
hash), conditional writes (``If-None-Match: *``) and the standard credential chain
(``AWS_*`` environment variables, web identity, the EC2 instance profile) — one wheel, no
botocore. Sources: AWS S3 User Guide, "Checking object integrity" and "Conditional
requests"; obstore 0.12 ``put``/``head``/``get``.

An object is either whole or absent: a single PUT or a completed multipart upload appears at
once. Each object carries its SHA-256 as user metadata (``x-amz-meta-sha256``), so a node
meeting an object it did not write (the ``skip`` policy) knows its digest without reading it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore as obs
import structlog
from obstore.exceptions import AlreadyExistsError
from obstore.store import S3Store

from daemon.errors import LibraryError

if TYPE_CHECKING:  # a typing-only name (obstore's stubs)
    from obstore.store import S3Config

log = structlog.get_logger("daemon.library")
CHUNK_BYTES = 8 << 20  # multipart: part size (S3: 5 MiB … 5 GiB), and single-PUT limit
CHECK_TIMEOUT_S = 10.0


class ObjectStoreError(LibraryError, OSError):
    """S3 refused or could not be reached (transient: the item is retried, downloads pause
    while the bucket stays unreachable)."""

    retryable = True


@dataclass(frozen=True)
class ObjectInfo:
    """An object in the bucket: its key (below the prefix), size in bytes, SHA-256 (hex) when
    harvestd wrote it."""

    key: str
    size_bytes: int
    sha256: str | None


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix without slashes at the ends)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


class ObjectLibrary:
    """One bucket (and prefix) holding the library; keys are library paths (``a/b.jpg``)."""

    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None) -> None:
        self.url = url
        bucket, prefix = split_url(url)
        config: S3Config = {"checksum_algorithm": "sha256",
                                  "region": region or os.environ.get("AWS_REGION")
                                  or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
        if endpoint_url:
            config["endpoint"] = endpoint_url.rstrip("/")
        self._store = S3Store(
            bucket, prefix=prefix or None, config=config,
            client_options={"connect_timeout": "10s", "timeout": "300s",
                            "allow_http": bool(endpoint_url and endpoint_url.startswith("http://"))},
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=60),
                          "backoff": {"init_backoff": timedelta(milliseconds=200),
                                      "max_backoff": timedelta(seconds=5), "base": 2}})

    async def head(self, key: str) -> ObjectInfo | None:
        """The object at ``key``, or None when there is none.

        Raises:
            ObjectStoreError: S3 could not answer.
        """
        try:
            got = await obs.get_async(self._store, key, options={"head": True})
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise ObjectStoreError(f"S3 HEAD {key}: {exc}") from None
        sha = got.attributes.get("sha256")
        return ObjectInfo(key, int(got.meta["size"]), str(sha) if sha else None)

    async def upload(self, local: Path, key: str, policy: str, sha256: str, size_bytes: int,
                     content_type: str | None = None) -> ObjectInfo:
        """Upload the complete, verified file ``local`` to ``key``; returns the object it became
        (with the ``skip`` policy and an object already there: that object).

        ``policy``: ``overwrite`` replaces an object at ``key``; ``skip`` keeps it (no upload);
        ``rename`` writes ``stem-1.ext``, ``stem-2.ext``… (a conditional write: two nodes never
        take the same name). Files above :data:`CHUNK_BYTES` go up in parts. S3 answers 200
        only for an object it stored whole whose SHA-256 matched the checksum header (and the
        signed payload hash): no read-back is needed.

        Raises:
            ObjectStoreError: S3 refused (a checksum mismatch included) or could not be reached.
        """
        attributes: dict[str, str] = {"sha256": sha256}
        if content_type:
            attributes["Content-Type"] = content_type
        candidate = key
        for n in range(1, 10_000):
            try:
                await obs.put_async(self._store, candidate, local, attributes=attributes,
                                    mode="overwrite" if policy == "overwrite" else "create",
                                    chunk_size=CHUNK_BYTES, max_concurrency=4)
            except AlreadyExistsError:
                if policy == "skip" and (there := await self.head(candidate)) is not None:
                    return there
                stem, dot, ext = key.rpartition(".") if "." in key.rsplit("/", 1)[-1] else (key, "", "")
                candidate = f"{stem}-{n}{dot}{ext}"
                continue
            except Exception as exc:
                raise ObjectStoreError(f"S3 PUT {candidate}: {exc}") from None
            return ObjectInfo(candidate, size_bytes, sha256)
        raise ObjectStoreError(f"no free name for {key}")

    async def download(self, key: str, dest: Path) -> int:
        """Fetch ``key`` into ``dest`` (written as ``dest.part``, renamed when whole); bytes.

        Raises:
            FileNotFoundError: there is no such object.
            ObjectStoreError: S3 could not be read.
        """
        part = dest.with_name(dest.name + ".part")
        try:
            got = await obs.get_async(self._store, key)
            await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
            total = 0
            digest = hashlib.sha256()
            handle = await asyncio.to_thread(part.open, "wb")
            try:
                async for chunk in got.stream(min_chunk_size=1 << 20):
                    data = bytes(chunk)
                    digest.update(data)
                    total += len(data)
                    await asyncio.to_thread(handle.write, data)
            finally:
                await asyncio.to_thread(handle.close)
            expected = got.attributes.get("sha256")
            if expected and expected != digest.hexdigest():
                raise ObjectStoreError(f"S3 GET {key}: SHA-256 differs from the object's own")
            await asyncio.to_thread(part.replace, dest)
            return total
        except FileNotFoundError:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise
        except ObjectStoreError:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise
        except Exception as exc:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise ObjectStoreError(f"S3 GET {key}: {exc}") from None

    async def problem(self) -> str | None:
        """Why the bucket cannot be used now (unreachable, missing, refused), or None."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async for _first in obs.list(self._store, chunk_size=1):
                    break  # one page proves the bucket answers
        except TimeoutError:
            return f"{self.url} not answering within {CHECK_TIMEOUT_S:g} s"
        except Exception as exc:
            return f"{self.url} unusable: {str(exc).splitlines()[0][:300]}"
        return None
