"""A real S3 protocol endpoint for tests: moto's server on 127.0.0.1 (a free port), with
one bucket; the test talks to it over HTTP through the real client library (obstore) and
reads it back with boto3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "harvestd-test", "AWS_SECRET_ACCESS_KEY": "harvestd-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Bucket:
    """The endpoint (``http://127.0.0.1:PORT``), the bucket, and a boto3 client to inspect it."""

    endpoint_url: str
    name: str
    client: Any
    server: ThreadedMotoServer

    def objects(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """key → {size, sha256 (our metadata)} of every object under ``prefix``."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                head = self.client.head_object(Bucket=self.name, Key=obj["Key"])
                found[obj["Key"]] = {"size": obj["Size"], "sha256": head["Metadata"].get("sha256")}
        return found


@contextmanager
def moto_bucket(prefix: str = "drone-images") -> Iterator[Bucket]:
    """Start the endpoint, create a new bucket ``{prefix}-{random}`` (moto keeps its state per
    process); AWS_* credentials set in this process's environment."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=name)
        yield Bucket(endpoint, name, client, server)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
