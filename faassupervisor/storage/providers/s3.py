"""The `s3` provider: Amazon S3 through boto3.

OSCAR's fields are `access_key`, `secret_key` and `region`. `endpoint` (and
`verify`) are accepted too, for S3-compatible servers (Ceph RGW, a local moto
server in the tests); without it boto3 resolves AWS's endpoint for the region.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

from faassupervisor.config.service import parse_bool
from faassupervisor.errors import BadConfig, StorageFailure
from faassupervisor.storage.provider import (
    CONNECT_TIMEOUT,
    MULTIPART_THRESHOLD,
    PART_CONCURRENCY,
    PART_SIZE,
    READ_TIMEOUT,
    ProviderContext,
    StorageProvider,
)
from faassupervisor.storage.retry import is_transient_status

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Mapping, Optional

DEFAULT_REGION = "us-east-1"
_NOT_FOUND = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


class S3Provider(StorageProvider):
    type_name = "s3"
    required_keys = ("access_key", "secret_key")

    def __init__(
        self,
        provider_id: str,
        access_key: str,
        secret_key: str,
        region: str,
        endpoint: Optional[str],
        verify: bool,
        pool_size: int = 16,
    ):
        super().__init__(provider_id)
        self._access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self.endpoint = endpoint
        self.verify = verify
        self._pool_size = pool_size
        self._client = None
        self._transfer_config = None
        self._client_lock = threading.Lock()

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        where = f"storage_providers.s3.{provider_id}"
        endpoint = section.get("endpoint")
        if endpoint:
            parts = urlsplit(str(endpoint))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise BadConfig(f"{where}.endpoint: expected a URL like https://s3.example.org, got {endpoint!r}")
        return {
            "access_key": str(section["access_key"]),
            "secret_key": str(section["secret_key"]),
            "region": str(section.get("region") or DEFAULT_REGION),
            "endpoint": str(endpoint) if endpoint else None,
            "verify": parse_bool(section.get("verify", True), f"{where}.verify"),
        }

    def client(self):
        """The boto3 client, built on first use (thread-safe; shared by the upload threads)."""
        with self._client_lock:
            if self._client is None:
                # Deferred: boto3 and botocore take a few hundred milliseconds to
                # import, which invocations that never touch S3 should not pay.
                import boto3.session
                from boto3.s3.transfer import TransferConfig
                from botocore.config import Config

                config = Config(
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                    # No SDK retries: faassupervisor.storage.retry is the one retry policy.
                    retries={"total_max_attempts": 1},
                    max_pool_connections=self._pool_size,
                    signature_version="s3v4",
                    # Custom endpoints (IPs, in-cluster names) rarely resolve bucket subdomains.
                    s3={"addressing_style": "path" if self.endpoint else "auto"},
                )
                # A session of our own: boto3's default session is not thread-safe.
                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    aws_access_key_id=self._access_key,
                    aws_secret_access_key=self._secret_key,
                    verify=self.verify,
                    config=config,
                )
                self._transfer_config = TransferConfig(
                    multipart_threshold=MULTIPART_THRESHOLD,
                    multipart_chunksize=PART_SIZE,
                    max_concurrency=PART_CONCURRENCY,
                    num_download_attempts=1,  # retries are ours (see above)
                    preferred_transfer_client="classic",
                )
                # Parts read ahead of the senders: bounds memory to a few parts.
                self._transfer_config.max_in_memory_upload_chunks = PART_CONCURRENCY + 1
            return self._client

    def size(self, bucket: str, key: str) -> Optional[int]:
        try:
            return self.client().head_object(Bucket=bucket, Key=key)["ContentLength"]
        except Exception as err:  # noqa: BLE001 - every SDK error is translated below
            if _error_code(err) in _NOT_FOUND:
                return None
            raise self._failure("stat", bucket, key, err) from None

    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        client = self.client()
        try:
            # Large objects come as parallel ranged GETs; memory stays bounded.
            client.download_file(bucket, key, str(dest_path), Config=self._transfer_config)
        except Exception as err:  # noqa: BLE001
            raise self._failure("download", bucket, key, err) from None

    def upload(self, src_path: Path, bucket: str, key: str) -> Optional[str]:
        client = self.client()
        try:
            if src_path.stat().st_size < MULTIPART_THRESHOLD:
                # One PUT streamed from the file: no transfer-manager threads for small files.
                with open(src_path, "rb") as body:
                    return client.put_object(Bucket=bucket, Key=key, Body=body).get("ETag")
            client.upload_file(str(src_path), bucket, key, Config=self._transfer_config)
            return None
        except FileNotFoundError:
            raise self.failure("upload", bucket, key, f"{src_path} vanished") from None
        except Exception as err:  # noqa: BLE001
            raise self._failure("upload", bucket, key, err) from None

    def _failure(self, action: str, bucket: str, key: str, err: BaseException) -> StorageFailure:
        """Translate a boto3/botocore/s3transfer error; transient ones are retried by the caller."""
        from botocore.exceptions import ClientError  # already loaded: the error came from the SDK

        for cause in _chain(err):
            if isinstance(cause, ClientError):
                code = _error_code(cause)
                status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in _NOT_FOUND:
                    what = "bucket" if code == "NoSuchBucket" else "object"
                    return self.failure(action, bucket, key, f"{what} not found")
                message = cause.response.get("Error", {}).get("Message")
                reason = f"{code}{f': {message}' if message else ''} (HTTP {status})"
                return self.failure(action, bucket, key, reason, transient=is_transient_status(status, code))
            if _is_network_error(cause):
                where = self.endpoint or f"S3 ({self.region})"
                what = "damaged in transit" if "Checksum" in type(cause).__name__ else f"{where} unreachable"
                return self.failure(action, bucket, key, f"{what}: {cause}", transient=True)
        return self.failure(action, bucket, key, f"{type(err).__name__}: {err}")


def _chain(err: BaseException):
    """The error and what it wraps: s3transfer re-raises ClientErrors inside its own types."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = getattr(err, "last_exception", None) or err.__cause__ or err.__context__


def _error_code(err: BaseException) -> Optional[str]:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or None
    return None


def _is_network_error(err: BaseException) -> bool:
    """Connection refused/reset, timeouts, truncated or damaged bodies: worth another attempt (TLS failures are not)."""
    from botocore import exceptions as bx  # already loaded: the error came from the SDK

    if isinstance(err, bx.SSLError):
        return False
    # A checksum mismatch is a body damaged in transit: another attempt may get it whole.
    damaged = tuple(getattr(bx, name) for name in ("FlexibleChecksumError", "ChecksumError") if hasattr(bx, name))
    return isinstance(
        err, (bx.ConnectionError, bx.HTTPClientError, bx.IncompleteReadError, ConnectionError, TimeoutError) + damaged
    )
