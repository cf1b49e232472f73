"""Decoding a request body into the script's input file, in chunks.

SPEC section 2's table: `application/octet-stream` is written untouched,
`multipart/form-data` gives its first file part, and anything else is decided
by content, because real clients send base64 under misleading Content-Types:
a body whose first non-blank byte is `{` or `[` must be JSON and is written
byte for byte (validated, never re-serialised); any other body must be strict
base64 and is written decoded. Everything is streamed: memory stays flat
whatever the body's size, and a failed decode leaves no file behind.
"""

from __future__ import annotations

import itertools
import os

from faassupervisor.errors import BadInput
from faassupervisor.events.base64_stream import Base64Decoder
from faassupervisor.events.json_stream import JsonValidator, is_whole_document
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Iterator, Optional, Protocol

    class Reader(Protocol):
        """What a body is read from: a binary file, standard input, or a wrapper of one."""

        def read(self, size: int = ..., /) -> bytes: ...

DEFAULT_NAME = "event_file"
BLANKS = b" \t\r\n"
EMPTY_BODY = "empty body: send JSON, base64, multipart/form-data or application/octet-stream"
ACCEPTED = (
    "accepted: a JSON object or array, base64 (standard or URL-safe alphabet), "
    "multipart/form-data, or any bytes with Content-Type: application/octet-stream"
)
_PREVIEW_CHARS = 40
_PREVIEW_BYTES = 2 * _PREVIEW_CHARS

KINDS = ("json", "base64", "multipart", "raw")
ONE_READ_JSON = 64 * 1024  # a JSON body this small, whole in one read, is checked in one call


@record
class DecodedBody:
    """The input file made from a body (a storage event never gets here: see
    `faassupervisor.events.staging`)."""

    path: str
    kind: str  # one of KINDS
    size: int


class _InputFile:
    """The input file being written: counts its bytes."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._file.write(data)
        self.size += len(data)

    def reset(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self.size = 0

    def close(self) -> None:
        self._file.close()


def media_type(content_type: Optional[str]) -> str:
    """`Multipart/Form-Data; boundary=x` → `multipart/form-data`; '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(
    stream: Reader,
    content_type: Optional[str],
    input_dir,
    chunk_size: int = 1 << 20,
) -> DecodedBody:
    """Write the body read from `stream` as the input file in `input_dir`.

    The file is `input_dir/event_file`, or the multipart part's own file name
    when it has a safe one; its path is returned as a str (`input_dir` may be a
    str or path-like: why strings, see `faassupervisor.config.settings`).
    BadInput (one line: what was received, what is accepted) when the body is
    empty or cannot be decoded.
    """
    path = os.path.join(input_dir, DEFAULT_NAME)
    out = _InputFile(path)
    try:
        try:
            kind, name = _decode(_chunks(stream, chunk_size), content_type, out)
        finally:
            out.close()
        if name and name != DEFAULT_NAME:
            final = os.path.join(input_dir, name)
            os.replace(path, final)
            path = final
        return DecodedBody(path=path, kind=kind, size=out.size)
    except BaseException:
        try:
            os.unlink(path)  # no half-written input file survives a failure
        except FileNotFoundError:
            pass
        raise


def _chunks(stream: Reader, chunk_size: int) -> Iterator[bytes]:
    """Reads that start small and double up to `chunk_size`: a tiny body (the common
    case) never pays for a megabyte buffer, a large one is read in big blocks."""
    size = min(chunk_size, 64 * 1024)
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
        size = min(size * 2, chunk_size)


def _decode(chunks: Iterator[bytes], content_type: Optional[str], out: _InputFile):
    """(kind, file name from the body or None), writing the decoded bytes to `out`."""
    media = media_type(content_type)
    if media == "application/octet-stream":
        for chunk in chunks:
            out.write(chunk)
        if not out.size:
            raise BadInput(EMPTY_BODY)
        return "raw", None
    if media == "multipart/form-data":
        # deferred: tests/test_supervisor_startup.py
        from faassupervisor.events.multipart import MultipartParser, boundary_of, safe_filename

        parser = MultipartParser(boundary_of(content_type or ""), out)
        for chunk in chunks:
            parser.feed(chunk)
        return "multipart", safe_filename(parser.close())
    return _decode_by_content(chunks, content_type, out), None


def _decode_by_content(chunks: Iterator[bytes], content_type: Optional[str], out: _InputFile) -> str:
    """JSON when the first non-blank byte opens an object or array, else strict base64."""
    validator = None  # made when a blank start or a body in several reads needs it
    skipped = 0
    for chunk in chunks:
        data = chunk.lstrip(BLANKS)
        if data:
            break
        # Blank so far: kept on disk (not in memory) in case the body is JSON.
        out.write(chunk)
        validator = validator or JsonValidator()
        validator.feed(chunk)
        skipped += len(chunk)
    else:
        raise BadInput(EMPTY_BODY)

    if data[:1] in (b"{", b"["):
        try:
            out.write(chunk)
            following = next(chunks, None)
            if following is None and validator is None and len(chunk) <= ONE_READ_JSON and is_whole_document(chunk):
                return "json"  # the common small body, whole in one read: one call of json's C scanner
            validator = validator or JsonValidator()
            validator.feed(chunk)
            rest = () if following is None else itertools.chain((following,), chunks)
            for chunk in rest:
                out.write(chunk)
                validator.feed(chunk)
            validator.close()
        except BadInput as err:
            raise BadInput(f"{err} (a body starting with '{data[:1].decode()}' must be JSON)") from None
        return "json"

    out.reset()
    decoder = Base64Decoder(offset=skipped + len(chunk) - len(data))
    first = data[:_PREVIEW_BYTES]  # what the client sent, for the error message
    try:
        out.write(decoder.feed(data))
        for chunk in chunks:
            if len(first) < _PREVIEW_BYTES:
                first += chunk[: _PREVIEW_BYTES - len(first)]
            out.write(decoder.feed(chunk))
        out.write(decoder.close())
    except BadInput as err:
        for chunk in chunks:  # read a little further if needed, to show what was sent
            if len(first) >= _PREVIEW_BYTES:
                break
            first += chunk[: _PREVIEW_BYTES - len(first)]
        sent = f" (Content-Type {content_type})" if content_type else ""
        raise BadInput(
            f"body is neither JSON nor base64: {err}; received {_preview(first)}{sent}; {ACCEPTED}"
        ) from None
    return "base64"


def _preview(data: bytes) -> str:
    """The first bytes of a body, escaped onto one line, at most ~40 characters."""
    text = repr(data[:_PREVIEW_BYTES].decode("utf-8", "backslashreplace"))
    if len(text) > _PREVIEW_CHARS:
        text = text[: _PREVIEW_CHARS - 4] + "...'"
    return text
