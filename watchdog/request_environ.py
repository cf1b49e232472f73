"""The environment of one invocation: the watchdog's own plus the request's CGI variables.

Built as a fresh dict per request; the watchdog's `os.environ` is never
touched. Runners get only the request's own variables (`request_variables`)
and lay them over the environment they were built with (`child_environ`): the
fork server holds the watchdog's environment already, so a request sends it
the few variables of its own, not the pod's hundreds. The variables are the classic watchdog's:
each header as `Http_<Canonical_Name>` (first value only), then `Http_Method`,
`Http_Query` and `Http_Path` when not empty, `Http_Transfer_Encoding` for
chunked bodies. `Host` and `Transfer-Encoding` are not headers in Go's
request model, so classic never exported them as headers; neither do we.
"""

from __future__ import annotations

import base64
import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_watchdog_forkserver.py
    from typing import Dict, Iterable, Mapping, Tuple

_SKIPPED = {"host", "transfer-encoding"}
_VALID_NAME = re.compile(r"[A-Za-z0-9_]+")


def canonical_header(name: str) -> str:
    """Go's `CanonicalMIMEHeaderKey`: `content-type` -> `Content-Type`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def cgi_variables(
    headers: Iterable[Tuple[str, str]], method: str, path: str, query: str, chunked: bool
) -> Dict[str, str]:
    """The `Http_*` variables of one request."""
    variables: Dict[str, str] = {}
    for name, value in headers:
        if name.lower() in _SKIPPED:
            continue
        key = "Http_" + canonical_header(name).replace("-", "_")
        if key in variables or not _VALID_NAME.fullmatch(key) or "\0" in value:
            continue  # first value wins, as classic's v[0]
        variables[key] = value
    variables["Http_Method"] = method
    if query:
        variables["Http_Query"] = query
    if path:
        variables["Http_Path"] = path
    if chunked:
        variables["Http_Transfer_Encoding"] = "chunked"
    return variables


def request_variables(cgi: Mapping[str, str], temp_dir: str) -> Dict[str, str]:
    """What one request adds to the watchdog's environment: its CGI variables, its private TMPDIR."""
    variables = dict(cgi)
    variables["TMPDIR"] = temp_dir
    return variables


def child_environ(base: Mapping[str, str], variables: Mapping[str, str]) -> Dict[str, str]:
    """The whole environment of one child: `base` (the watchdog's own), then the request's `variables`."""
    environ = dict(base)
    environ.update(variables)
    return environ


def marshal_request(body: bytes, headers: Iterable[Tuple[str, str]]) -> bytes:
    """Classic's `marshal_request` document: `{"header": {Name: [values]}, "body": {"raw": base64}}`."""
    grouped: Dict[str, list] = {}
    for name, value in headers:
        if name.lower() in _SKIPPED:
            continue
        grouped.setdefault(canonical_header(name), []).append(value)
    document = {"header": grouped, "body": {"raw": base64.b64encode(body).decode("ascii")}}
    return json.dumps(document, separators=(",", ":")).encode()
