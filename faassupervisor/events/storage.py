"""Storage events: MinIO (`minio:s3`) and S3 (`aws:s3`) notifications, and OSCAR's delegated events.

MinIO notifies OSCAR of every uploaded object; OSCAR runs the supervisor with
the notification as its event. A *delegated* event wraps one from another
cluster with the provider to fetch it from: `{"event": ..., "storage_provider": "minio.x"}`.
Parsing only reads the document; choosing the provider and downloading is
`faassupervisor.storage.transfer`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote_plus

from faassupervisor.config.service import ProviderRef, ServiceConfig, StoragePath
from faassupervisor.errors import BadConfig, BadInput
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing is start-up time
    from typing import Any, Optional

SOURCES = {"minio:s3": "minio", "aws:s3": "s3"}


@record
class StorageEvent:
    source: str  # "minio:s3" or "aws:s3"
    bucket: str
    key: str  # URL-decoded
    time: str
    raw: bytes  # the event JSON as received, exported to the script as $EVENT
    provider: Optional[ProviderRef] = None  # set by a delegated event

    @property
    def provider_type(self) -> str:
        return SOURCES[self.source]


def parse_storage_event(document: Any, raw: bytes) -> Optional[StorageEvent]:
    """A StorageEvent when `document` is a MinIO/S3/delegated event, else None (a plain JSON body)."""
    if not isinstance(document, Mapping):
        return None
    if "storage_provider" in document and "event" in document:
        return _delegated(document, raw)
    records = document.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    record = records[0]
    source = record.get("eventSource")
    if source not in SOURCES:
        return None
    try:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        key = s3["object"]["key"]
    except (KeyError, TypeError):
        raise BadInput(f"{source} event: missing s3.bucket.name or s3.object.key") from None
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise BadInput(f"{source} event: s3.bucket.name and s3.object.key must be non-empty strings")
    return StorageEvent(
        source=source,
        bucket=bucket,
        key=unquote_plus(key),  # notifications URL-encode keys ('+' for spaces)
        time=str(record.get("eventTime", "")),
        raw=raw,
    )


def _delegated(document: Mapping[str, Any], raw: bytes) -> StorageEvent:
    inner = document["event"]
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            raise BadInput("delegated event: 'event' is a string that is not JSON") from None
    try:
        provider = ProviderRef.parse(document["storage_provider"], "storage_provider")
    except BadConfig as err:
        raise BadInput(f"delegated event: {err}") from None
    event = parse_storage_event(inner, json.dumps(inner).encode())
    if event is None:
        raise BadInput("delegated event: 'event' is not a MinIO or S3 storage event")
    return event._replace(raw=raw, provider=provider)


def match_input(service: ServiceConfig, event: StorageEvent) -> tuple:
    """(provider reference, input entry or None) to fetch the event's object from; BadInput if none fits."""
    if event.provider is not None:
        if event.provider.id not in service.storage_providers.get(event.provider.type, {}):
            raise BadInput(f"delegated event names storage provider '{event.provider}', which is not configured")
        return event.provider, None
    for entry in service.input:
        # A `local` input stands in for MinIO/S3 when trying a service out without a server.
        if entry.provider.type not in (event.provider_type, "local") or entry.bucket != event.bucket:
            continue
        if _in_folder(entry, event.key):
            return entry.provider, entry
    raise BadInput(
        f"{event.source} event for {event.bucket}/{event.key}: no '{event.provider_type}' (or 'local') "
        "input is configured for that bucket and folder"
    )


def _in_folder(entry: StoragePath, key: str) -> bool:
    return not entry.folder or key == entry.folder or key.startswith(entry.folder + "/")
