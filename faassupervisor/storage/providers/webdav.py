"""The `webdav` provider: a WebDAV server (dCache is the main user) through requests.

`hostname` is the server's host (https is assumed, as the original did) or a
full URL with a base path; `login` and `password` are sent as HTTP Basic
authentication. A bucket is the first collection under that URL; the
collections a key needs are created (MKCOL) before its PUT, as `mkdir -p` would.
"""

from __future__ import annotations

from pathlib import Path

from faassupervisor.storage.http_provider import HttpProvider, base_url, quote_path
from faassupervisor.storage.provider import ProviderContext

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Mapping, Optional

_PUT_OK = (200, 201, 204)
_MKCOL_OK = (201, 405)  # 405: the collection already exists


class WebdavProvider(HttpProvider):
    type_name = "webdav"
    required_keys = ("hostname", "login", "password")

    def __init__(self, provider_id: str, url: str, login: str, password: str):
        super().__init__(provider_id)
        self.url = url
        self._auth = (login, password)

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        return {
            "url": base_url(section["hostname"], f"storage_providers.webdav.{provider_id}.hostname", "dcache.example.org"),
            "login": str(section["login"]),
            "password": str(section["password"]),
        }

    def configure_session(self, session) -> None:
        session.auth = self._auth

    def _url(self, *segments: str) -> str:
        return f"{self.url}/{quote_path(*segments)}"

    def size(self, bucket: str, key: str) -> Optional[int]:
        response = self.request("HEAD", self._url(bucket, key), "stat", bucket, key)
        if response.status_code == 404:
            return None
        self.check(response, (200,), "stat", bucket, key)
        return self.content_length(response)

    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        self.get_to_file(self._url(bucket, key), bucket, key, dest_path)

    def upload(self, src_path: Path, bucket: str, key: str) -> None:  # no ETag: verified by size
        self.ensure_parents(bucket, key)
        response = self.put_file(self._url(bucket, key), src_path, bucket, key)
        self.check(response, _PUT_OK, "upload", bucket, key)
        response.close()

    def make_directory(self, path: str, bucket: str, key: str) -> None:
        response = self.request("MKCOL", self._url(path) + "/", "upload", bucket, key)
        self.check(response, _MKCOL_OK, "upload", bucket, key)
        response.close()
