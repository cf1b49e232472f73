"""The `onedata` provider: a Onedata space through its CDMI interface, with requests.

OSCAR's fields: `oneprovider_host` (https assumed; a full URL is accepted too),
`token` (an Onedata access token, sent as `X-Auth-Token`) and `space`. Paths
are relative to the space: bucket `b` and key `k` live at
`https://HOST/cdmi/SPACE/b/k`. The calls used, and nothing else:

- `PUT /cdmi/SPACE/PATH` with the raw bytes (a non-CDMI request): create or replace a file;
- `PUT /cdmi/SPACE/DIR/` as a CDMI container request: create a directory (each one a
  key needs, once per invocation, before the file's PUT);
- `GET /cdmi/SPACE/PATH` (non-CDMI): the file's bytes;
- `GET /cdmi/SPACE/PATH?metadata:cdmi_size` (CDMI object request): its size, to verify transfers.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from faassupervisor.storage.http_provider import HttpProvider, base_url, quote_path
from faassupervisor.storage.provider import ProviderContext

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Mapping, Optional

CDMI_VERSION = {"X-CDMI-Specification-Version": "1.1.1"}
_PUT_OK = (200, 201, 204)
_MKDIR_OK = (200, 201, 204, 409)  # 409: the directory already exists


class OnedataProvider(HttpProvider):
    type_name = "onedata"
    required_keys = ("oneprovider_host", "token", "space")

    def __init__(self, provider_id: str, url: str, token: str):
        super().__init__(provider_id)
        self.url = url  # https://HOST/cdmi/SPACE
        self._token = token

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        host = base_url(
            section["oneprovider_host"], f"storage_providers.onedata.{provider_id}.oneprovider_host", "oneprovider.example.org"
        )
        return {"url": f"{host}/cdmi/{quote(str(section['space']).strip('/'), safe='')}", "token": str(section["token"])}

    def configure_session(self, session) -> None:
        session.headers["X-Auth-Token"] = self._token

    def _url(self, *segments: str) -> str:
        return f"{self.url}/{quote_path(*segments)}"

    def size(self, bucket: str, key: str) -> Optional[int]:
        headers = {**CDMI_VERSION, "Accept": "application/cdmi-object"}
        response = self.request("GET", self._url(bucket, key) + "?metadata:cdmi_size", "stat", bucket, key, headers=headers)
        if response.status_code == 404:
            return None
        self.check(response, (200,), "stat", bucket, key)
        try:
            return int(response.json()["metadata"]["cdmi_size"])
        except (ValueError, KeyError, TypeError):
            raise self.failure("stat", bucket, key, "CDMI metadata without a cdmi_size") from None

    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        self.get_to_file(self._url(bucket, key), bucket, key, dest_path)

    def upload(self, src_path: Path, bucket: str, key: str) -> None:  # no ETag: verified by size
        self.ensure_parents(bucket, key)
        headers = {"Content-Type": "application/octet-stream"}
        response = self.put_file(self._url(bucket, key), src_path, bucket, key, headers=headers)
        self.check(response, _PUT_OK, "upload", bucket, key)
        response.close()

    def make_directory(self, path: str, bucket: str, key: str) -> None:
        headers = {**CDMI_VERSION, "Content-Type": "application/cdmi-container", "Accept": "application/cdmi-container"}
        response = self.request("PUT", self._url(path) + "/", "upload", bucket, key, headers=headers, data=b"{}")
        self.check(response, _MKDIR_OK, "upload", bucket, key)
        response.close()
