"""What the `minio` and `s3` providers share: one client per provider, built on first use,
and one translation of SDK errors into StorageFailure / TransientStorageError.

Each subclass keeps its own SDK (the `minio` SDK for MinIO, boto3 for S3, both
imported only when a client is built or an error is translated) and says, for
one error, its S3 code, HTTP status and message (`_error_details`) and whether
it is a network fault worth another attempt (`_is_network_error`); the rules
that turn those into one line are here, once.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from faassupervisor.errors import BadConfig, StorageFailure
from faassupervisor.storage.provider import StorageProvider
from faassupervisor.storage.retry import is_transient_status

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from pathlib import Path
    from typing import ClassVar, Iterator, Optional, Tuple


class ObjectStoreProvider(StorageProvider):
    """An S3-protocol provider: credentials, an optional endpoint, a lazily built SDK client."""

    # S3 error codes that mean "no such object or bucket" (a size of None, not a failure).
    not_found_codes: ClassVar[Tuple[str, ...]] = ()

    def __init__(
        self,
        provider_id: str,
        *,
        access_key: str,
        secret_key: str,
        region: Optional[str],
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
        self._client_lock = threading.Lock()

    def client(self):
        """The SDK client, built on first use and shared by the upload threads (both SDKs' are thread-safe)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self):
        """Build the SDK client: no SDK retries (faassupervisor.storage.retry is the one policy),
        the provider module's timeouts, `_pool_size` connections."""
        raise NotImplementedError

    def size(self, bucket: str, key: str) -> Optional[int]:
        try:
            return self._stat(bucket, key)
        except Exception as err:  # noqa: BLE001 - every SDK error is translated below
            if self._error_details(err)[0] in self.not_found_codes:
                return None
            raise self._failure("stat", bucket, key, err) from None

    def _stat(self, bucket: str, key: str) -> int:
        """The object's size from a HEAD; SDK errors propagate."""
        raise NotImplementedError

    def _vanished(self, bucket: str, key: str, src_path: Path) -> StorageFailure:
        return self.failure("upload", bucket, key, f"{src_path} vanished")

    def _failure(self, action: str, bucket: str, key: str, err: BaseException) -> StorageFailure:
        """Translate an SDK or network error (or one it wraps); transient ones are retried by the caller."""
        for cause in self._causes(err):
            if self._is_network_error(cause):
                # A checksum mismatch is a body damaged in transit: another attempt may get it whole.
                what = "damaged in transit" if "Checksum" in type(cause).__name__ else f"{self.where} unreachable"
                return self.failure(action, bucket, key, f"{what}: {self._network_reason(cause)}", transient=True)
            code, status, message = self._error_details(cause)
            if code in self.not_found_codes:
                what = "bucket" if code == "NoSuchBucket" else "object"
                return self.failure(action, bucket, key, f"{what} not found")
            if code is not None or status is not None:
                reason = f"{code or 'error'}{f': {message}' if message else ''} (HTTP {status})"
                return self.failure(action, bucket, key, reason, transient=is_transient_status(status, code))
        return self.failure(action, bucket, key, f"{type(err).__name__}: {err}")

    @property
    def where(self) -> str:
        """The server, as a failure names it."""
        return str(self.endpoint)

    def _causes(self, err: BaseException) -> Iterator[BaseException]:
        """The error, and those it wraps when the SDK wraps them."""
        yield err

    def _error_details(self, err: BaseException) -> Tuple[Optional[str], Optional[int], Optional[str]]:
        """(S3 error code, HTTP status, message) of one SDK error; Nones when it is no server answer."""
        return None, None, None

    def _is_network_error(self, err: BaseException) -> bool:
        """Connection refused/reset, timeouts, truncated bodies: worth another attempt (TLS failures are not)."""
        return isinstance(err, (ConnectionError, TimeoutError))

    def _network_reason(self, err: BaseException) -> str:
        return str(err)


def endpoint_parts(where: str, url: str, example: str):
    """`url` split (`urllib.parse.urlsplit`); BadConfig naming `where` unless it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadConfig(f"{where}: expected a URL like {example}, got {url!r}")
    return parts


__all__ = ["ObjectStoreProvider", "endpoint_parts"]
