"""The `local` provider: a directory tree, `<root>/<bucket>/<key>`.

It is the embedded default, so the project can be tried with no storage
server: `storage_providers: {local: {default: {path: ...}}}`, or no section at
all for `local.default` under `$FAAS_SUPERVISOR_STORAGE_DIR`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from faassupervisor.errors import StorageFailure
from faassupervisor.paths import safe_join
from faassupervisor.storage.provider import ProviderContext, StorageProvider

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Mapping, Optional


class LocalProvider(StorageProvider):
    type_name = "local"

    def __init__(self, provider_id: str, root: Path):
        super().__init__(provider_id)
        self.root = root

    @classmethod
    def defined_without_section(cls, provider_id: str, context: ProviderContext) -> bool:
        return provider_id == "default"  # under $FAAS_SUPERVISOR_STORAGE_DIR

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        return {"root": Path(section.get("path") or context.storage_dir)}

    def _object_path(self, bucket: str, key: str) -> Path:
        # Keys come from events and file names: never let one escape the root.
        return safe_join(self.root, f"{bucket}/{key}")

    def size(self, bucket: str, key: str) -> Optional[int]:
        try:
            return self._object_path(bucket, key).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as err:
            raise self.failure("stat", bucket, key, err.strerror or str(err)) from None

    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        src = self._object_path(bucket, key)
        try:
            shutil.copyfile(src, dest_path)
        except FileNotFoundError:
            raise StorageFailure(f"{self.ref}: object {bucket}/{key} not found under {self.root}") from None
        except OSError as err:
            raise StorageFailure(f"{self.ref}: cannot read {bucket}/{key}: {err.strerror}") from None

    def upload(self, src_path: Path, bucket: str, key: str) -> None:
        dest = self._object_path(bucket, key)
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_path, tmp)
            os.replace(tmp, dest)  # readers never see half a file
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise StorageFailure(f"{self.ref}: cannot write {bucket}/{key}: {err.strerror}") from None
