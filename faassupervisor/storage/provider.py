"""The interface every storage provider implements: plain values in, plain values out.

A provider knows nothing of events or output filters: the core decides which
object to fetch and which files go where, and calls `download`/`upload` with a
bucket, a key and a local path. Each provider validates its own config section
in `from_config`, naming the provider id and the missing key on failure.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar, Mapping, Tuple

from faassupervisor.errors import BadConfig


class ProviderContext:
    """What a provider may need from the runtime besides its own section (paths, not env)."""

    def __init__(self, storage_dir: Path, secrets_dir: Path):
        self.storage_dir = storage_dir
        self.secrets_dir = secrets_dir


class StorageProvider(abc.ABC):
    """One configured storage endpoint (`TYPE.ID`)."""

    type_name: ClassVar[str]
    # Keys that must be present in the section; optional ones are read with defaults.
    required_keys: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, provider_id: str):
        self.provider_id = provider_id

    @property
    def ref(self) -> str:
        return f"{self.type_name}.{self.provider_id}"

    @classmethod
    def from_config(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> "StorageProvider":
        """Validate the section and build the provider; errors name `TYPE.ID` and the key."""
        cls.check_required(provider_id, section)
        return cls(provider_id, **cls.options(provider_id, section, context))

    @classmethod
    def check_required(cls, provider_id: str, section: Mapping[str, Any]) -> None:
        missing = [key for key in cls.required_keys if section.get(key) in (None, "")]
        if missing:
            raise BadConfig(
                f"storage_providers.{cls.type_name}.{provider_id}: missing {', '.join(missing)}"
            )

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        """Keyword arguments for the constructor, taken from the validated section."""
        return {}

    @abc.abstractmethod
    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        """Fetch `bucket/key` into `dest_path`; raise StorageFailure naming provider, bucket and key."""

    @abc.abstractmethod
    def upload(self, src_path: Path, bucket: str, key: str) -> None:
        """Store `src_path` as `bucket/key`; raise StorageFailure naming provider, bucket and key."""
