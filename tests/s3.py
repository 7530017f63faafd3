"""A real S3 protocol endpoint for tests: moto's server (``python -m moto.server``) in a child
process on 127.0.0.1 (a free port the server picks and prints), with one bucket; the test
talks to it over HTTP through the real client library (obstore) and reads it back with boto3.
A child process, not a thread: the daemons under test and the imitation sites in the test
process do not wait on its work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "harvestd-test", "AWS_SECRET_ACCESS_KEY": "harvestd-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}
LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


@dataclass
class Bucket:
    """The endpoint (``http://127.0.0.1:PORT``), the bucket, a boto3 client to inspect it."""

    endpoint_url: str
    name: str
    client: Any
    process: subprocess.Popen[str]
    requests: list[str]

    def request_log(self) -> list[str]:
        """Every request the server answered so far: ``METHOD /bucket/key?query``."""
        return list(self.requests)

    def objects(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """key → {size, sha256 (our metadata)} of every object under ``prefix``."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                head = self.client.head_object(Bucket=self.name, Key=obj["Key"])
                found[obj["Key"]] = {"size": obj["Size"], "sha256": head["Metadata"].get("sha256")}
        return found

    def stop(self) -> None:
        """The endpoint goes away (an S3 outage)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """The endpoint is back on the same address (empty: moto keeps no state), with the
        bucket made again."""
        self.stop()
        port = self.endpoint_url.rsplit(":", 1)[1]
        self.process, endpoint = _start(port, self.requests)
        assert endpoint == self.endpoint_url, endpoint
        self.client.create_bucket(Bucket=self.name)


REQUEST = re.compile(r'"([A-Z]+ \S+) HTTP/')


def _start(port: str, log: list[str]) -> tuple[subprocess.Popen[str], str]:
    """moto's server on 127.0.0.1:``port`` (0: a free one); (the process, its endpoint). The
    requests it logs (``METHOD /path?query``) are appended to ``log``."""
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    assert process.stderr is not None
    for line in process.stderr:  # until the server says where it listens
        if found := LISTENING.search(line):
            def drain() -> None:  # its request log must never fill the pipe
                for logged in process.stderr or ():
                    if request := REQUEST.search(logged):
                        log.append(request.group(1))

            threading.Thread(target=drain, daemon=True).start()
            return process, found.group(1)
    raise RuntimeError(f"moto's S3 server did not start on port {port} (exit {process.poll()})")


@contextmanager
def moto_bucket(prefix: str = "drone-images") -> Iterator[Bucket]:
    """Start the endpoint, create a bucket ``{prefix}-{random}``; AWS_* credentials set in
    this process's environment (children started meanwhile inherit them)."""
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    requests: list[str] = []
    process, endpoint = _start("0", requests)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = Bucket(endpoint, name, client, process, requests)
    try:
        bucket.client.create_bucket(Bucket=name)
        yield bucket
    finally:
        bucket.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
