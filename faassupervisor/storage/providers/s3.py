"""The `s3` provider: Amazon S3 through boto3.

OSCAR's fields are `access_key`, `secret_key` and `region`. `endpoint` (and
`verify`) are accepted too, for S3-compatible servers (Ceph RGW, a local moto
server in the tests); without it boto3 resolves AWS's endpoint for the region.
"""

from __future__ import annotations

from pathlib import Path

from faassupervisor.config.service import parse_bool
from faassupervisor.storage.object_store import ObjectStoreProvider, endpoint_parts
from faassupervisor.storage.provider import (
    CONNECT_TIMEOUT,
    MULTIPART_THRESHOLD,
    PART_CONCURRENCY,
    PART_SIZE,
    READ_TIMEOUT,
    ProviderContext,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Iterator, Mapping, Optional, Tuple

DEFAULT_REGION = "us-east-1"


class S3Provider(ObjectStoreProvider):
    type_name = "s3"
    required_keys = ("access_key", "secret_key")
    not_found_codes = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")

    def __init__(self, provider_id: str, **common):
        super().__init__(provider_id, **common)
        self._transfer_config = None

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        where = f"storage_providers.s3.{provider_id}"
        endpoint = section.get("endpoint")
        if endpoint:
            endpoint_parts(f"{where}.endpoint", str(endpoint), "https://s3.example.org")
        return {
            "access_key": str(section["access_key"]),
            "secret_key": str(section["secret_key"]),
            "region": str(section.get("region") or DEFAULT_REGION),
            "endpoint": str(endpoint) if endpoint else None,
            "verify": parse_bool(section.get("verify", True), f"{where}.verify"),
        }

    @property
    def where(self) -> str:
        return self.endpoint or f"S3 ({self.region})"

    def _make_client(self):
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
        client = boto3.session.Session().client(
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
        return client

    def _stat(self, bucket: str, key: str) -> int:
        return self.client().head_object(Bucket=bucket, Key=key)["ContentLength"]

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
            raise self._vanished(bucket, key, src_path) from None
        except Exception as err:  # noqa: BLE001
            raise self._failure("upload", bucket, key, err) from None

    def _causes(self, err: Optional[BaseException]) -> Iterator[BaseException]:
        """s3transfer re-raises ClientErrors inside its own types: follow what each wraps."""
        seen = set()
        while err is not None and id(err) not in seen:
            seen.add(id(err))
            yield err
            err = getattr(err, "last_exception", None) or err.__cause__ or err.__context__

    def _error_details(self, err: BaseException) -> Tuple[Optional[str], Optional[int], Optional[str]]:
        response = getattr(err, "response", None)
        if not isinstance(response, dict):
            return None, None, None
        error = response.get("Error", {})
        code = str(error.get("Code", "")) or None
        return code, response.get("ResponseMetadata", {}).get("HTTPStatusCode"), error.get("Message")

    def _is_network_error(self, err: BaseException) -> bool:
        from botocore import exceptions as bx  # already loaded: the error came from the SDK

        if isinstance(err, bx.SSLError):
            return False
        # A checksum mismatch is a body damaged in transit: another attempt may get it whole.
        damaged = tuple(getattr(bx, name) for name in ("FlexibleChecksumError", "ChecksumError") if hasattr(bx, name))
        return isinstance(
            err, (bx.ConnectionError, bx.HTTPClientError, bx.IncompleteReadError, ConnectionError, TimeoutError) + damaged
        )
