"""The `minio` provider: a MinIO (or any S3-compatible) server through the `minio` SDK.

OSCAR's own MinIO is `minio.default`; inside the cluster it answers at
`http://minio-service.minio:9000`, the default endpoint. OSCAR writes
`access_key: hidden` / `secret_key: hidden` into the service's
function_config.yaml (grycap/oscar pkg/handlers/create.go) and mounts the
user's MinIO secret at `/var/run/secrets/providers/minio.default/` with the
files `accessKey` and `secretKey` (pkg/handlers/job.go, `MinIODefaultPath`).
So when `<secrets dir>/minio.<id>/` exists, its files win over placeholder
keys (`hidden`, empty or missing); a real key written in the section is used
as it is.
"""

from __future__ import annotations

from pathlib import Path

from faassupervisor.config.service import parse_bool
from faassupervisor.errors import BadConfig
from faassupervisor.storage.object_store import ObjectStoreProvider, endpoint_parts
from faassupervisor.storage.provider import (
    CONNECT_TIMEOUT,
    PART_CONCURRENCY,
    PART_SIZE,
    READ_TIMEOUT,
    ProviderContext,
    refuse_dot_segments,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Mapping, Optional, Tuple

DEFAULT_ENDPOINT = "http://minio-service.minio:9000"
_SECRET_FILES = {"access_key": "accessKey", "secret_key": "secretKey"}
# What OSCAR writes in place of the keys it keeps in the mounted secret (create.go).
PLACEHOLDERS = ("", "hidden")


class MinioProvider(ObjectStoreProvider):
    type_name = "minio"
    not_found_codes = ("NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound")

    def __init__(self, provider_id: str, *, secure: bool, **common):
        super().__init__(provider_id, **common)  # endpoint: host[:port], the form the SDK takes
        self.secure = secure

    @classmethod
    def defined_without_section(cls, provider_id: str, context: ProviderContext) -> bool:
        # OSCAR mounts the user's secret for it: a 3.7 delegated event's `minio.<cluster id>` may
        # have nothing else (the endpoint is then OSCAR's in-cluster MinIO).
        return secret_dir(context.secrets_dir, provider_id).is_dir()

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        where = f"storage_providers.minio.{provider_id}"
        url = str(section.get("endpoint") or DEFAULT_ENDPOINT).strip()
        parts = endpoint_parts(f"{where}.endpoint", url if "://" in url else f"https://{url}", DEFAULT_ENDPOINT)
        if parts.path.strip("/") or parts.query:
            raise BadConfig(f"{where}.endpoint: the MinIO endpoint cannot have a path, got {url!r}")
        credentials = _credentials(where, section, secret_dir(context.secrets_dir, provider_id))
        return {
            "endpoint": parts.netloc,
            "secure": parts.scheme == "https",
            "verify": parse_bool(section.get("verify", True), f"{where}.verify"),
            "region": str(section["region"]) if section.get("region") else None,
            **credentials,
        }

    def _make_client(self):
        # deferred: tests/test_supervisor_startup.py
        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            maxsize=self._pool_size,
            cert_reqs="CERT_REQUIRED" if self.verify else "CERT_NONE",
            # No SDK retries: faassupervisor.storage.retry is the one retry policy.
            retries=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
        )
        return Minio(
            self.endpoint,
            access_key=self._access_key,
            secret_key=self._secret_key,
            secure=self.secure,
            region=self.region,
            http_client=http,
            cert_check=self.verify,
        )

    def size(self, bucket: str, key: str) -> Optional[int]:
        refuse_dot_segments(key)  # MinIO refuses such names; say so as the client's fault
        return super().size(bucket, key)

    def _stat(self, bucket: str, key: str) -> int:
        return self.client().stat_object(bucket, key).size

    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        import shutil  # deferred, like the SDK: configuring an output must not cost start-up time

        refuse_dot_segments(key)
        response = None
        try:
            response = self.client().get_object(bucket, key)
            with open(dest_path, "wb") as out:
                # Streamed in chunks: memory stays flat whatever the object's size.
                shutil.copyfileobj(response, out, 1024 * 1024)
        except OSError as err:
            if not self._is_network_error(err):
                raise self.failure("download", bucket, key, f"cannot write {dest_path}: {err.strerror}") from None
            raise self._failure("download", bucket, key, err) from None
        except Exception as err:  # noqa: BLE001
            raise self._failure("download", bucket, key, err) from None
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def upload(self, src_path: Path, bucket: str, key: str) -> Optional[str]:
        try:
            # Up to PART_SIZE: one PUT. Beyond: a multipart upload, PART_CONCURRENCY parts in flight.
            return self.client().fput_object(
                bucket, key, str(src_path), part_size=PART_SIZE, num_parallel_uploads=PART_CONCURRENCY
            ).etag
        except FileNotFoundError:
            raise self._vanished(bucket, key, src_path) from None
        except Exception as err:  # noqa: BLE001
            raise self._failure("upload", bucket, key, err) from None

    def _error_details(self, err: BaseException) -> Tuple[Optional[str], Optional[int], Optional[str]]:
        from minio.error import InvalidResponseError, S3Error, ServerError  # loaded: the error came from the SDK

        if isinstance(err, S3Error):
            return err.code, err.response.status, getattr(err, "message", None)
        if isinstance(err, ServerError):
            return None, err.status_code, None
        if isinstance(err, InvalidResponseError):
            return None, getattr(err, "_code", None), None  # the SDK keeps the status only there
        return None, None, None

    def _is_network_error(self, err: BaseException) -> bool:
        import urllib3.exceptions as u3  # already loaded by the SDK when we get here

        if isinstance(err, u3.MaxRetryError) and err.reason is not None:
            err = err.reason
        if isinstance(err, u3.SSLError):
            return False
        return isinstance(err, (u3.HTTPError, ConnectionError, TimeoutError))

    def _network_reason(self, err: BaseException) -> str:
        reason = getattr(err, "reason", None) or err
        text = str(reason)
        # urllib3 prefixes the connection's repr ("HTTPConnection(host=..., port=...): Failed to ...");
        # the message already names the endpoint, so keep what went wrong.
        for marker in (">: ", "): "):
            if marker in text:
                return text.split(marker, 1)[1]
        return text


def secret_dir(secrets_dir: str, provider_id: str) -> Path:
    """Where OSCAR mounts the secret of `minio.<provider_id>` (job.go `MinIODefaultPath` for `default`)."""
    return Path(secrets_dir, f"minio.{provider_id}")


def is_placeholder(value: Any) -> bool:
    """A key OSCAR left for the mounted secret to fill: missing, empty or `hidden`."""
    return value is None or str(value).strip().lower() in PLACEHOLDERS


def _credentials(where: str, section: Mapping[str, Any], folder: Path) -> dict:
    """access_key and secret_key: the section's real keys, else the mounted secret files."""
    mounted = folder.is_dir()
    credentials = {}
    for key, file_name in _SECRET_FILES.items():
        value = section.get(key)
        if not is_placeholder(value):
            credentials[key] = str(value)
            continue
        said = "missing" if value in (None, "") else f"the placeholder {str(value).strip()!r}"
        if not mounted:
            raise BadConfig(f"{where}: {key} is {said} and there is no secret directory {folder}/")
        secret = _read_secret(folder / file_name)
        if secret is None:
            raise BadConfig(f"{where}: {key} is {said} and {folder / file_name} is missing or empty")
        credentials[key] = secret
    return credentials


def _read_secret(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
