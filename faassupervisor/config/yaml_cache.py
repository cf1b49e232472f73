"""A per-container cache of parsed config documents, so that most starts skip importing PyYAML.

A service's `function_config.yaml` does not change between invocations, but
importing PyYAML costs about 13 ms, paid by every supervisor start. The first
start stores the parsed document as JSON, keyed by a checksum of the YAML text
and holding that text, so a later start with the same text reads JSON instead.
The cache is only used in a directory owned by us and closed to others, its
files are 0600, and it only holds documents that survive a JSON round trip
unchanged and carry no secret: a config with storage credentials, a service
token or `environment.secrets` (what OSCAR mounts from a Kubernetes Secret) is
parsed at every start rather than copied to /tmp. Any problem just means
parsing the YAML again.
"""

from __future__ import annotations

import json
import os
import stat
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Callable, Optional


def default_dir() -> str:
    return f"/tmp/faas-supervisor-cache-{os.getuid()}"


# Documents handed over in memory (`remember`), and those parsed here that could be: what a
# fork server's throw-away child parsed, secrets included, reaches it without touching the disk.
_MEMORY: dict = {}
_PARSED_HERE: list = []


def remember(handover: str) -> None:
    """Take the documents another process parsed (`handover()`'s JSON text)."""
    try:
        for key, document in json.loads(handover):
            _MEMORY[key] = document
    except (ValueError, TypeError):
        pass


def handover() -> str:
    """The documents this process parsed, as JSON text for `remember` in another process."""
    return json.dumps(_PARSED_HERE)


def load(text: bytes, parse: Callable[[bytes], Any], cache_dir) -> Any:
    """`parse(text)`, or the document a previous start stored for the very same text (`cache_dir`:
    a str or path-like, or None for no cache)."""
    key = text.decode("latin-1")
    if key in _MEMORY:
        return _MEMORY[key]
    if cache_dir is None or not _usable(cache_dir):
        return _parsed(key, parse(text))
    entry = os.path.join(cache_dir, f"{zlib.crc32(text):08x}-{len(text)}.json")
    try:
        with open(entry, "r", encoding="utf-8") as handle:
            stored_key, document = json.load(handle)
        if stored_key == key:
            return document
    except (OSError, ValueError, TypeError):
        pass
    document = _parsed(key, parse(text))
    _store(entry, key, document)
    return document


def _parsed(key: str, document: Any) -> Any:
    if len(_PARSED_HERE) < 4 and _faithful(document):
        _PARSED_HERE.append([key, document])
    return document


def _faithful(document: Any) -> bool:
    """Whether JSON gives `document` back unchanged (not so with int keys, dates, ...)."""
    try:
        return json.loads(json.dumps(document)) == document
    except (TypeError, ValueError):
        return False


def _usable(cache_dir) -> bool:
    try:
        os.mkdir(cache_dir, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        info = os.lstat(cache_dir)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


# Fields whose values are credentials (OSCAR's provider fields, the service token, environment.secrets).
SECRET_FIELDS = frozenset({"access_key", "secret_key", "password", "token", "secrets"})
PLACEHOLDERS = ("", "hidden")  # what OSCAR writes where the real value is a mounted secret file


def holds_secret(document: Any) -> bool:
    """Whether any credential field of `document` (at any depth) has a real value."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for name, value in node.items():
                if name in SECRET_FIELDS and value not in PLACEHOLDERS and value is not None and value != {}:
                    return True
                pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
    return False


def _store(entry: str, key: str, document: Any) -> None:
    if holds_secret(document):
        return
    try:
        encoded = json.dumps([key, document])
        if not _faithful(document):
            return
        folder, name = os.path.split(entry)
        partial = os.path.join(folder, f".{name}.{os.getpid()}")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(encoded)
        os.replace(partial, entry)
    except (OSError, TypeError, ValueError):
        pass
