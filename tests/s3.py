"""S3 servers for tests: moto in process, or a real one (Ceph RGW in CI) named by S3_ENDPOINT."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """The standard variables hugbox (and any AWS client) reads."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def client(self):  # type: ignore[no-untyped-def]  # boto3 ships no types
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
        )  # fmt: skip

    def new_bucket(self) -> str:
        """A bucket of its own per test: nothing to clean between tests."""
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


@contextmanager
def s3_server() -> Iterator[S3Server]:
    if os.environ.get("S3_ENDPOINT"):
        yield S3Server(
            os.environ["S3_ENDPOINT"],
            os.environ.get("S3_ACCESS_KEY", "test"),
            os.environ.get("S3_SECRET_KEY", "testtest"),
        )
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}", "testing", "testing")
    finally:
        server.stop()
