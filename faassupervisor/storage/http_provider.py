"""The base of the providers that speak plain HTTP through requests (`webdav`, `onedata`).

What they share is how a request is made and judged: a timeout on every call,
one session per thread (requests does not promise a Session is thread-safe, and
uploads run in parallel), bodies streamed to and from files, and HTTP statuses
and network errors translated into StorageFailure or TransientStorageError by
the same rule the SDK-backed providers use.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from faassupervisor.errors import BadConfig
from faassupervisor.storage.provider import CONNECT_TIMEOUT, READ_TIMEOUT, StorageProvider, refuse_dot_segments
from faassupervisor.storage.retry import is_transient_status

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Iterable, Optional, Set

TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)
CHUNK = 1024 * 1024


def base_url(value: Any, field: str, example: str) -> str:
    """`host[:port][/path]` or a full http(s) URL (https assumed), without a trailing slash."""
    text = str(value).strip()
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadConfig(f"{field}: expected a host name like {example}, got {text!r}")
    return url.rstrip("/")


def quote_path(*segments: str) -> str:
    """URL-encode a slash-separated path segment by segment (spaces, '+', '#', unicode).

    On these servers keys are file paths: a `..` segment would climb out of the
    bucket, so it is refused rather than sent.
    """
    for segment in segments:
        refuse_dot_segments(segment)
    parts = [part for segment in segments for part in segment.split("/") if part]
    return "/".join(quote(part, safe="") for part in parts)


class HttpProvider(StorageProvider):
    """A provider whose objects are URLs under one base URL."""

    def __init__(self, provider_id: str):
        super().__init__(provider_id)
        self._local = threading.local()
        self._known_dirs: Set[str] = set()
        self._dirs_lock = threading.Lock()

    def configure_session(self, session) -> None:
        """Set authentication and default headers on a new session."""

    def make_directory(self, path: str, bucket: str, key: str) -> None:
        """Create the directory (collection) `path`, relative to the base URL; existing is fine."""
        raise NotImplementedError

    def ensure_parents(self, bucket: str, key: str) -> None:
        """Create the directories above `bucket/key` that this provider has not seen yet, top down.

        Done before the PUT rather than after a "parent missing" answer: servers
        answer that before reading the body, and a half-read request poisons
        the kept-alive connection. Each directory costs one request per
        invocation (concurrent uploads may both create one; both succeed).
        """
        parents = [bucket] + [part for part in key.split("/")[:-1] if part]
        for depth in range(1, len(parents) + 1):
            path = "/".join(parents[:depth])
            with self._dirs_lock:
                if path in self._known_dirs:
                    continue
            self.make_directory(path, bucket, key)
            with self._dirs_lock:
                self._known_dirs.add(path)

    def session(self):
        """This thread's requests session (built on first use)."""
        session = getattr(self._local, "session", None)
        if session is None:
            # Deferred: requests (and urllib3) only load for invocations that use such a provider.
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            # No adapter retries: faassupervisor.storage.retry is the one retry policy.
            adapter = HTTPAdapter(max_retries=0, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self.configure_session(session)
            self._local.session = session
        return session

    def request(self, method: str, url: str, action: str, bucket: str, key: str, **kwargs):
        """One HTTP call with a timeout; network errors become (transient) StorageFailures."""
        import requests  # already loaded by session()

        session = self.session()
        try:
            return session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.exceptions.SSLError as err:
            raise self.failure(action, bucket, key, f"TLS error: {err}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            host = urlsplit(url).netloc
            raise self.failure(action, bucket, key, f"{host} unreachable: {_reason(err)}", transient=True) from None
        except requests.exceptions.RequestException as err:
            raise self.failure(action, bucket, key, f"{type(err).__name__}: {err}") from None

    def check(self, response, ok: Iterable[int], action: str, bucket: str, key: str) -> None:
        """Raise the failure a non-`ok` status means; 404 is "not found", never retried."""
        if response.status_code in ok:
            return
        status = response.status_code
        response.close()
        if status == 404:
            raise self.failure(action, bucket, key, "object not found")
        if status in (401, 403):
            raise self.failure(action, bucket, key, f"access denied (HTTP {status}): check the credentials")
        raise self.failure(action, bucket, key, f"HTTP {status} {response.reason}", is_transient_status(status))

    def get_to_file(self, url: str, bucket: str, key: str, dest_path: Path, **kwargs) -> None:
        """GET `url` streamed into `dest_path` (flat memory)."""
        import requests

        response = self.request("GET", url, "download", bucket, key, stream=True, **kwargs)
        with response:
            self.check(response, (200,), "download", bucket, key)
            try:
                with open(dest_path, "wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
            except (requests.exceptions.RequestException, ConnectionError, TimeoutError) as err:
                raise self.failure("download", bucket, key, f"transfer cut: {_reason(err)}", True) from None
            except OSError as err:
                raise self.failure("download", bucket, key, f"cannot write {dest_path}: {err.strerror}") from None

    def put_file(self, url: str, src_path: Path, bucket: str, key: str, **kwargs):
        """PUT the file's bytes, streamed from disk with its Content-Length; returns the response."""
        try:
            body = open(src_path, "rb")
        except FileNotFoundError:
            raise self.failure("upload", bucket, key, f"{src_path} vanished") from None
        with body:
            response = self.request("PUT", url, "upload", bucket, key, data=body, **kwargs)
        return response

    @staticmethod
    def content_length(response) -> Optional[int]:
        value = response.headers.get("Content-Length", "")
        return int(value) if value.isdigit() else None


def _reason(err: BaseException) -> str:
    """The innermost message of a requests/urllib3 error chain, without object reprs."""
    text = str(err.args[0] if err.args else err)
    for marker in (">: ", "): "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.rstrip("')\"")
