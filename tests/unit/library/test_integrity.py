"""Integrity helpers: RFC 3230 / RFC 1864 digest headers, FITS framing."""

from __future__ import annotations

import base64
import hashlib

import pytest

from daemon.images import CorruptImage, verify_fits
from daemon.library.publish import parse_digest_header
from tests.fakes.slooh_server import fits_bytes


def test_digest_headers():
    data = b"slooh"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert parse_digest_header(f"MD5={md5}") == f"md5={hashlib.md5(data).hexdigest()}"
    assert parse_digest_header(f"UNIXsum=12, SHA-256={sha}") == f"sha-256={hashlib.sha256(data).hexdigest()}"
    assert parse_digest_header(md5) == f"md5={hashlib.md5(data).hexdigest()}"  # Content-MD5
    assert parse_digest_header(f"MD5={sha}") is None  # wrong length for MD5
    assert parse_digest_header("MD5=not base64!") is None
    assert parse_digest_header(None) is None


def test_fits_framing(tmp_path):
    good = tmp_path / "a.fit"
    good.write_bytes(fits_bytes("m42"))
    assert verify_fits(good) == 5760  # one header block + one data block
    truncated = tmp_path / "b.fit"
    truncated.write_bytes(fits_bytes("m42")[:4000])
    with pytest.raises(CorruptImage, match="truncated FITS file: 4000 bytes"):
        verify_fits(truncated)
    png = tmp_path / "c.fit"
    png.write_bytes(b"\x89PNG" + b"\0" * 2876)
    with pytest.raises(CorruptImage, match="not a FITS file"):
        verify_fits(png)
    no_end = tmp_path / "d.fit"
    no_end.write_bytes(b"SIMPLE  =                    T".ljust(2880))
    with pytest.raises(CorruptImage, match="no END card"):
        verify_fits(no_end)
