"""moto's S3 server with authentication on: requests signed with the wrong keys get 403.

The shared `s3_server` fixture (tests/storage_servers.py) accepts any keys, so
it cannot tell whether the supervisor signed with OSCAR's `hidden`
placeholders or with the mounted secret. This one runs `moto_server` in its
own process with `INITIAL_NO_AUTH_ACTION_COUNT` set: the first requests (which
create an IAM user, its key pair and an allow-all policy) go unchecked, every
later one must be signed with that key pair. Its own process, because moto
keeps the count in a class attribute: turning authentication on in this
process would turn it on for every other moto server of the session.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.storage_servers import free_port

# create_user, create_access_key, put_user_policy: the unchecked set-up requests.
_SETUP_REQUESTS = 3
_ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


class AuthenticatedS3:
    """A moto S3 server that checks signatures, the keys it accepts, and a client signed with them."""

    def __init__(self):
        import boto3

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        moto_server = str(Path(sys.executable).parent / "moto_server")
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_SETUP_REQUESTS))
        self._proc = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(port, self._proc)
        iam = boto3.client("iam", endpoint_url=self.url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="oscar-user")
        key = iam.create_access_key(UserName="oscar-user")["AccessKey"]
        iam.put_user_policy(UserName="oscar-user", PolicyName="all", PolicyDocument=_ALLOW_ALL)
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                                   aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def bucket(self, prefix: str = "bucket") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list:
        listed = self.client.list_objects_v2(Bucket=bucket).get("Contents", ())
        return sorted(obj["Key"] for obj in listed)

    def read(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _wait_for_port(port: int, proc: subprocess.Popen, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto_server did not listen on 127.0.0.1:{port} within {limit:.0f} s")


@pytest.fixture(scope="session")
def authenticated_s3():
    server = AuthenticatedS3()
    try:
        yield server
    finally:
        server.stop()
