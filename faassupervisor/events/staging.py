"""The script's input, staged: a request body decoded to a file, or a storage event's object fetched.

One way in for every invocation. The body is read up to `EVENT_LIMIT` bytes
first: a storage event (MinIO/S3/Onedata notifications, dCache's, delegated
ones: `faassupervisor.events.storage`) is always a small JSON object, so one
that fits is parsed in memory and never written to disk; anything else is
decoded by `faassupervisor.events.body`, which streams it into the input file.
"""

from __future__ import annotations

import json
import logging
import os

from faassupervisor import mime
from faassupervisor.events.body import BLANKS, decode_body, media_type
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Dict, Optional, Tuple

    from faassupervisor.config.service import ServiceConfig
    from faassupervisor.events.body import Reader
    from faassupervisor.events.storage import StorageEvent
    from faassupervisor.storage.registry import ProviderSet

log = logging.getLogger(__name__)

EVENT_LIMIT = 64 * 1024  # storage events are small; bigger JSON bodies are plain input
# A MinIO/S3/Onedata event has "Records", a delegated one "storage_provider", a dCache one
# "subscription", a Rucio one "event_type"; a key spelled with \u escapes could hide any of
# them, so a body with escapes is always parsed.
_EVENT_MARKERS = (b"Records", b"storage_provider", b"subscription", b"event_type", b"\\u")
# Bodies whose Content-Type says what they are are never read as events (SPEC section 2).
_NOT_SNIFFED = ("application/octet-stream", "multipart/form-data")


@record
class StagedInput:
    """The variables that tell the script where its input is, and the storage event, if any."""

    variables: Dict[str, str]
    event: Optional[StorageEvent] = None


def stage_input(
    stdin: Optional[Reader],
    event_variable: Optional[bytes],
    content_type: Optional[str],
    input_dir: str,
    service: ServiceConfig,
    providers: ProviderSet,
) -> StagedInput:
    """Turn the body on `stdin` (or `EVENT`, for Kubernetes Jobs) into the input file in `input_dir`.

    BadInput for a body that cannot be decoded and for an event naming no
    usable input; StorageFailure when its object cannot be fetched.
    """
    head, rest = _read_head(stdin, event_variable)
    event = _storage_event(head, rest, content_type)
    if event is None:
        decoded = decode_body(_Prefixed(head, rest), content_type, input_dir)
        log.debug("decoded %s body: %d bytes", decoded.kind, decoded.size)
        # A body we validated as JSON needs no libmagic (its import and database
        # load are ~10 ms of every start): it *is* application/json.
        return StagedInput(input_variables(decoded.path, "application/json" if decoded.kind == "json" else None))
    return _stage_event(event, input_dir, service, providers)


def _stage_event(event: StorageEvent, input_dir: str, service: ServiceConfig, providers: ProviderSet) -> StagedInput:
    from pathlib import Path

    from faassupervisor.events.storage import resolve
    from faassupervisor.storage import transfer  # deferred: tests/test_supervisor_startup.py

    event = resolve(service, event, providers.is_defined)
    log.info("%s event for %s/%s", event.source, event.bucket, event.key)
    dest = transfer.event_input_path(event, Path(input_dir))
    variables = {
        "STORAGE_OBJECT_KEY": event.object_key,
        "EVENT_TIME": event.time,
        "EVENT": event.raw.decode("utf-8", "replace"),
    }
    if service.file_stage_in:
        log.info("file_stage_in: the script fetches %s itself", event.key)
        variables["INPUT_FILE_PATH"] = str(dest)
        return StagedInput(variables, event)
    transfer.fetch_event_object(event, service, providers, dest)
    variables.update(input_variables(dest))
    return StagedInput(variables, event)


def input_variables(path, known_type: Optional[str] = None) -> Dict[str, str]:
    """INPUT_FILE_PATH and INPUT_FILE_MIME of an input file (libmagic decides, unless told)."""
    kind = known_type or mime.detect(path)
    path = mime.with_extension(os.fspath(path), kind)
    return {"INPUT_FILE_PATH": path, "INPUT_FILE_MIME": kind}


def _read_head(stdin: Optional[Reader], event_variable: Optional[bytes]) -> Tuple[bytes, Optional[Reader]]:
    """(up to EVENT_LIMIT + 1 first bytes, the stream the rest comes from or None at its end).

    Standard input, unless it is a terminal or empty and `EVENT` is set. Reads
    until EOF or past the limit, so that a small body is known to be whole (as
    `decode_body` would read it anyway: no extra read).
    """
    if stdin is None or (hasattr(stdin, "isatty") and stdin.isatty()):
        return event_variable or b"", None
    head = b""
    while len(head) <= EVENT_LIMIT:
        chunk = stdin.read(EVENT_LIMIT + 1 - len(head))
        if not chunk:
            if not head and event_variable:
                return event_variable, None
            return head, None
        head += chunk
    return head, stdin


def _storage_event(head: bytes, rest: Optional[Reader], content_type: Optional[str]) -> Optional[StorageEvent]:
    """The StorageEvent a small whole JSON object describes; None for any other body."""
    if rest is not None or len(head) > EVENT_LIMIT or media_type(content_type) in _NOT_SNIFFED:
        return None
    if head.lstrip(BLANKS)[:1] != b"{" or not any(marker in head for marker in _EVENT_MARKERS):
        return None  # no event's key is there: skip parsing it and importing the event parser
    try:
        # What `decode_body` accepts as JSON: strict UTF-8 (no BOM), no NaN or Infinity.
        document = json.loads(head.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # deeply nested arrays are valid JSON, but no event
        return None  # `decode_body` then names what is wrong with it, or writes it as plain input
    from faassupervisor.events.storage import parse_storage_event  # deferred: tests/test_supervisor_startup.py

    return parse_storage_event(document, head)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class _Prefixed:
    """A stream with bytes already read put back in front; `rest` None: nothing follows them."""

    def __init__(self, head: bytes, rest: Optional[Reader]):
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if self._rest is None:
            if 0 <= size < len(head):
                head, self._head = head[:size], head[size:]
            return head
        if size < 0:
            return head + self._rest.read()
        if size < len(head):
            head, self._head = head[:size], head[size:]
            return head
        return head + self._rest.read(size - len(head)) if size > len(head) else head
