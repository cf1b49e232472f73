"""The interface every storage provider implements: plain values in, plain values out.

A provider knows nothing of events or output filters: the core decides which
object to fetch and which files go where, and calls `download`/`upload` with a
bucket, a key and a local path. Each provider validates its own config section
in `from_config`, naming the provider id and the missing key on failure, and
never imports its SDK there: validation runs at every start-up, the SDK only
when an object actually moves.

Failures are raised as `StorageFailure` (final) or `TransientStorageError`
(`faassupervisor.storage.retry`: worth another attempt); retrying, size checks
and parallelism are `faassupervisor.storage.transfer`'s job, once for all.
"""

from __future__ import annotations

import abc
from pathlib import Path

from faassupervisor.errors import BadConfig, BadInput, StorageFailure
from faassupervisor.storage.retry import TransientStorageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, ClassVar, Mapping, Optional, Tuple

MiB = 1024 * 1024

# How the SDK-backed providers move large files, in one place so that the
# memory bound is easy to state: a multipart upload holds at most
# (PART_CONCURRENCY + 1) parts of PART_SIZE in memory, a single PUT at most one.
PART_SIZE = 8 * MiB
MULTIPART_THRESHOLD = PART_SIZE  # files bigger than one part go as multipart uploads
PART_CONCURRENCY = 4  # parts of one file in flight at once

# Every network call has a timeout: (connect, read) seconds. A read timeout is
# the longest silence tolerated on an open connection, not a transfer limit.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


def refuse_dot_segments(key: str) -> None:
    """BadInput for a key with `.` or `..` segments, on providers whose keys are paths.

    On WebDAV, Onedata and MinIO such a key would name something outside the
    bucket (or is refused by the server); S3 keys are opaque and may hold them.
    """
    if any(part in (".", "..") for part in key.split("/")):
        raise BadInput(f"object key {key!r} has a '.' or '..' segment")


class ProviderContext:
    """What a provider may need from the runtime besides its own section (paths, not env)."""

    def __init__(self, storage_dir: str, secrets_dir: str):
        # Strings, made into paths by the providers that use them: an invocation builds a
        # context whether or not it has storage to reach.
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
    def defined_without_section(cls, provider_id: str, context: ProviderContext) -> bool:
        """Whether this provider exists even with no `storage_providers` section (OSCAR's mounted secrets)."""
        return False

    @classmethod
    def options(cls, provider_id: str, section: Mapping[str, Any], context: ProviderContext) -> dict:
        """Keyword arguments for the constructor, taken from the validated section."""
        return {}

    def size(self, bucket: str, key: str) -> Optional[int]:
        """The stored object's size in bytes, None when it does not exist (a HEAD or stat).

        Used to verify every upload and download; a provider that cannot tell
        leaves this unimplemented and its transfers go unverified.
        """
        raise NotImplementedError

    def failure(self, action: str, bucket: str, key: str, reason: str, transient: bool = False) -> StorageFailure:
        """The one-line error naming this provider, the bucket and the key."""
        kind = TransientStorageError if transient else StorageFailure
        return kind(f"{self.ref}: cannot {action} {bucket}/{key}: {reason}")

    @abc.abstractmethod
    def download(self, bucket: str, key: str, dest_path: Path) -> None:
        """Fetch `bucket/key` into `dest_path`; raise StorageFailure naming provider, bucket and key."""

    @abc.abstractmethod
    def upload(self, src_path: Path, bucket: str, key: str) -> Optional[str]:
        """Store `src_path` as `bucket/key`; raise StorageFailure naming provider, bucket and key.

        Returns the ETag the server answered with, if any: when it is the file's
        MD5 (an S3 single-part upload) it proves the stored bytes and spares
        the HEAD that would otherwise verify the upload.
        """
