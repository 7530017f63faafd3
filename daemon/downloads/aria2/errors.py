"""aria2's error codes (aria2c(1) manual, "EXIT STATUS"), in words, with what to do about them.

The same numbers are aria2c's exit status and the ``errorCode`` of ``aria2.tellStatus``
("based on the last error encountered"). Policy: ``retry`` = transient, retried with the
daemon's backoff; ``final`` = permanent for this item; ``checksum`` = delete the partial
data and fetch once more, then final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from daemon.store.models import CHECKSUM_ERROR, HTTP_ERROR, NETWORK_ERROR, NOT_FOUND, STORAGE_ERROR

Policy = Literal["retry", "final", "checksum"]


@dataclass(frozen=True)
class Aria2Failure:
    """One aria2 error code: its meaning in words, the retry policy and the store's error code."""

    code: int
    words: str
    policy: Policy
    error_code: str


_TABLE: dict[int, tuple[str, Policy, str]] = {
    1: ("unknown error (often: connection failed)", "retry", NETWORK_ERROR),
    2: ("timed out", "retry", NETWORK_ERROR),
    3: ("resource not found (HTTP 404)", "final", NOT_FOUND),
    4: ("too many 'resource not found' errors", "final", NOT_FOUND),
    5: ("download too slow (below lowest-speed-limit)", "retry", NETWORK_ERROR),
    6: ("network problem", "retry", NETWORK_ERROR),
    7: ("unfinished download at aria2c exit", "retry", NETWORK_ERROR),
    8: ("server does not support resume", "retry", HTTP_ERROR),
    9: ("not enough disk space", "retry", STORAGE_ERROR),
    10: ("piece length differs from the .aria2 control file", "checksum", CHECKSUM_ERROR),
    11: ("same file already being downloaded", "final", STORAGE_ERROR),
    12: ("same info hash already being downloaded", "final", STORAGE_ERROR),
    13: ("file already exists", "final", STORAGE_ERROR),
    14: ("renaming the file failed", "final", STORAGE_ERROR),
    15: ("could not open the existing file", "final", STORAGE_ERROR),
    16: ("could not create or truncate the file", "final", STORAGE_ERROR),
    17: ("file I/O error", "final", STORAGE_ERROR),
    18: ("could not create the directory", "final", STORAGE_ERROR),
    19: ("name resolution failed", "retry", NETWORK_ERROR),
    20: ("could not parse the Metalink document", "final", HTTP_ERROR),
    21: ("FTP command failed", "retry", NETWORK_ERROR),
    22: ("bad or unexpected HTTP response header", "retry", HTTP_ERROR),
    23: ("too many redirects", "final", HTTP_ERROR),
    24: ("HTTP authorization failed", "final", HTTP_ERROR),
    25: ("could not parse bencoded data", "final", HTTP_ERROR),
    26: ("corrupt .torrent file", "final", HTTP_ERROR),
    27: ("bad magnet URI", "final", HTTP_ERROR),
    28: ("bad or unrecognised option", "final", HTTP_ERROR),
    29: ("server overloaded or in maintenance (e.g. HTTP 503)", "retry", HTTP_ERROR),
    30: ("could not parse the JSON-RPC request", "final", HTTP_ERROR),
    32: ("checksum validation failed", "checksum", CHECKSUM_ERROR),
}


def classify(code: int | str | None, message: str = "") -> Aria2Failure:
    """What aria2 error ``code`` (int or tellStatus's string) means and how to treat it."""
    try:
        number = int(code) if code is not None else 1
    except ValueError:
        number = 1
    words, policy, error_code = _TABLE.get(number, (f"aria2 error {number}", "retry", HTTP_ERROR))
    detail = f"aria2 error {number}: {words}"
    if message and message.lower() not in words.lower():
        detail += f" ({message})"
    return Aria2Failure(number, detail, policy, error_code)
