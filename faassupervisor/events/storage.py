"""Storage events: what notifies an OSCAR service that an object is waiting, and where it is.

Recognised, as OSCAR's FaaS Supervisor recognises them (grycap/faas-supervisor
`faassupervisor/events/{minio,s3,onedata,dCache,rucio}.py`):

- MinIO (`eventSource: minio:s3`) and S3 (`aws:s3`) notifications;
- Onedata's OneTrigger (`eventSource: OneTrigger`, `Key: /<space>/<path>`);
- dCache's inotify events (`{"event": {"name": ...}, "subscription": ...}`), read
  through the `webdav` input (OSCAR's dCache is WebDAV);
- *delegated* events from another cluster, `{"storage_provider": ..., "event": ...}`:
  OSCAR 3.7 (pkg/resourcemanager/delegate.go) names the origin cluster's id and
  sends the event as a JSON string; 4.x names `TYPE.ID` and may send an object;
- Rucio events (`event_type` + `payload.scope`), refused: we have no Rucio provider.
  So is any other `eventSource`: never is an event handed to the script as its input.

Parsing only reads the document; `resolve` decides which configured provider
and which bucket and key the object is at; downloading is
`faassupervisor.storage.transfer`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote_plus

from faassupervisor.config.service import ProviderRef, ServiceConfig, StoragePath
from faassupervisor.errors import BadConfig, BadInput
from faassupervisor.records import Record, record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Callable, Optional

# eventSource (or our name for a source without one) -> the provider type its objects are read with.
SOURCES = {"minio:s3": "minio", "aws:s3": "s3", "OneTrigger": "onedata", "dcache": "webdav"}
# Provider types a delegated event may name as `TYPE.ID` (anything else is a cluster id, as in 3.7).
_DELEGATION_TYPES = ("minio", "s3", "webdav", "onedata", "local")


@record
class StorageEvent(Record):
    source: str  # a key of SOURCES
    bucket: str  # empty for dCache until `resolve` finds its input folder
    key: str  # URL-decoded
    time: str
    raw: bytes  # the event JSON as received, exported to the script as $EVENT
    provider: Optional[ProviderRef] = None  # named by a delegated event, or chosen by `resolve`
    resolved: bool = False  # `resolve` checked the provider and fixed bucket and key
    user_bucket: bool = False  # from a per-user bucket of an `isolation_level: USER` service
    named_key: Optional[str] = None  # the key as the event spells it, when that differs (Onedata's Key)

    @property
    def object_key(self) -> str:
        """$STORAGE_OBJECT_KEY: the key as faas-supervisor exports it (for Onedata, `/<space>/<path>`)."""
        return self.named_key or self.key

    @property
    def provider_type(self) -> str:
        return SOURCES[self.source]


def parse_storage_event(document: Any, raw: bytes) -> Optional[StorageEvent]:
    """A StorageEvent when `document` is a storage event, None for a plain JSON body.

    BadInput for an event from a source we cannot read from, and for a
    recognised event missing the fields that locate its object.
    """
    if not isinstance(document, Mapping):
        return None
    if "storage_provider" in document and "event" in document:
        return _delegated(document, raw)
    if isinstance(document.get("event"), Mapping) and "subscription" in document:
        return _dcache(document["event"], raw)
    payload = document.get("payload")
    if "event_type" in document and isinstance(payload, Mapping) and "scope" in payload:
        raise BadInput("rucio event: no 'rucio' storage provider to fetch its object from")
    records = document.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    record = records[0]
    source = record.get("eventSource")
    if source is None:
        return None
    if source == "OneTrigger":
        return _onedata(document, record, raw)
    if source not in SOURCES:
        raise BadInput(f"storage event from {str(source)!r}: no storage provider reads objects from that source")
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


def _onedata(document: Mapping[str, Any], record: Mapping[str, Any], raw: bytes) -> StorageEvent:
    # `Key` is /<space>/<path in the space>; the space chooses the provider (resolve).
    key = document.get("Key")
    if not isinstance(key, str) or len(key.strip("/").split("/")) < 3:
        raise BadInput("OneTrigger event: 'Key' must be '/<space>/<folder>/<file>'")
    space, bucket, rest = key.strip("/").split("/", 2)
    # The space travels in `bucket` until `resolve` matches it against the providers' spaces.
    return StorageEvent(source="OneTrigger", bucket=space, key=f"{bucket}/{rest}",
                        time=str(record.get("eventTime", "")), raw=raw, named_key=key)


def _dcache(inner: Mapping[str, Any], raw: bytes) -> StorageEvent:
    name = inner.get("name")
    if not isinstance(name, str) or not name.strip("/"):
        raise BadInput("dCache event: 'event.name' must be a file name")
    return StorageEvent(source="dcache", bucket="", key=name.strip("/"), time="", raw=raw)


def _delegated(document: Mapping[str, Any], raw: bytes) -> StorageEvent:
    inner = document["event"]
    if isinstance(inner, str):  # how both 3.7 and 4.x marshal it (delegate.go DelegatedEvent.Event)
        try:
            inner = json.loads(inner)
        except ValueError:
            raise BadInput("delegated event: 'event' is a string that is not JSON") from None
    event = parse_storage_event(inner, json.dumps(inner).encode())
    if event is None or event.source == "dcache":
        raise BadInput("delegated event: 'event' is not a MinIO, S3 or OneTrigger storage event")
    provider = delegated_provider(document["storage_provider"], event.provider_type)
    return event._replace(raw=raw, provider=provider)


def delegated_provider(named: Any, event_type: str) -> ProviderRef:
    """The provider a delegated event names: `TYPE.ID` (OSCAR 4.x) or a bare cluster id (3.7).

    OSCAR 3.7 sends the origin cluster's id (`service.ClusterID`); the provider's
    type is then the inner event's (`minio:s3` → minio), and its id the cluster id.
    """
    if not isinstance(named, str) or not named.strip():
        raise BadInput(f"delegated event: 'storage_provider' must name a provider or a cluster, got {named!r}")
    text = named.strip()
    if text.partition(".")[0] in _DELEGATION_TYPES:
        try:
            return ProviderRef.parse(text, "storage_provider")
        except BadConfig as err:
            raise BadInput(f"delegated event: {err}") from None
    return ProviderRef(event_type, text)


def resolve(service: ServiceConfig, event: StorageEvent, is_defined: Callable[[ProviderRef], bool]) -> StorageEvent:
    """The event with its provider chosen and checked, and bucket and key final; BadInput if none fits.

    `is_defined(ref)` says whether a provider exists for this invocation (a config section, or
    for MinIO the secret OSCAR mounts for it).
    """
    if event.provider is not None:  # delegated: the provider is named
        if not is_defined(event.provider):
            raise BadInput(f"delegated event names storage provider '{event.provider}', which is not configured"
                           f" (no storage_providers.{event.provider.type}.{event.provider.id} section"
                           f"{' and no mounted secret' if event.provider.type == 'minio' else ''})")
        return event._replace(resolved=True)
    if event.source == "OneTrigger":
        return _resolve_onedata(service, event)
    if event.source == "dcache":
        return _resolve_dcache(service, event)
    if event.provider_type == "minio" and service.is_user_bucket(event.bucket):
        # isolation_level USER: the user's own bucket, read with the user's credentials, which
        # OSCAR mounts as minio.default's secret (job.go); as faas-supervisor's storage/config.py.
        return event._replace(provider=ProviderRef("minio", "default"), resolved=True, user_bucket=True)
    for entry in service.input:
        # A `local` input stands in for MinIO/S3 when trying a service out without a server.
        if entry.provider.type not in (event.provider_type, "local") or entry.bucket != event.bucket:
            continue
        if _in_folder(entry, event.key):
            return event._replace(provider=entry.provider, resolved=True)
    raise BadInput(
        f"{event.source} event for {event.bucket}/{event.key}: no '{event.provider_type}' (or 'local') "
        "input is configured for that bucket and folder"
    )


def _resolve_onedata(service: ServiceConfig, event: StorageEvent) -> StorageEvent:
    space = event.bucket
    for entry in service.input:
        if entry.provider.type == "onedata" and service.provider_section(entry.provider).get("space") == space:
            bucket, _, key = event.key.partition("/")
            return event._replace(provider=entry.provider, bucket=bucket, key=key, resolved=True)
    raise BadInput(f"OneTrigger event for space {space!r}: no 'onedata' input whose provider has that space")


def _resolve_dcache(service: ServiceConfig, event: StorageEvent) -> StorageEvent:
    # faas-supervisor reads dCache events through the input `webdav.dcache`, in its folder.
    inputs = [entry for entry in service.input if entry.provider.type == "webdav"]
    inputs.sort(key=lambda entry: entry.provider.id != "dcache")
    if not inputs:
        raise BadInput(f"dCache event for {event.key!r}: no 'webdav' input (such as webdav.dcache) is configured")
    entry = inputs[0]
    key = f"{entry.folder}/{event.key}" if entry.folder else event.key
    return event._replace(provider=entry.provider, bucket=entry.bucket, key=key, resolved=True)


def match_input(service: ServiceConfig, event: StorageEvent) -> tuple:
    """(provider reference, None) to fetch the event's object from; BadInput if none fits.

    An event `resolve` has seen keeps its provider; any other is resolved here
    against the config's sections alone.
    """
    if not event.resolved:
        event = resolve(service, event, lambda ref: ref.id in service.storage_providers.get(ref.type, {}))
    return event.provider, None


def user_outputs(service: ServiceConfig, event: StorageEvent) -> tuple:
    """`output` for an event from a per-user bucket: every MinIO path moved to `<event bucket>/<folder>`.

    The user's outputs stay in the user's bucket (faas-supervisor storage/config.py `upload_output`).
    """
    return tuple(
        entry._replace(path=f"{event.bucket}/{entry.folder}".rstrip("/")) if entry.provider.type == "minio" else entry
        for entry in service.output
    )


def _in_folder(entry: StoragePath, key: str) -> bool:
    return not entry.folder or key == entry.folder or key.startswith(entry.folder + "/")
