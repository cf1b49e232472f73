"""Streaming `multipart/form-data`: the first file part goes to a sink, the rest is drained.

`curl --form data=@image.png` (OSCAR's exposed-service examples) sends the
input file as one part of a form. The script gets that part's bytes, under its
file name when it has a safe one. Parts can be as large as the body, so the
parser never holds a part in memory: it keeps only the bytes that might still
turn out to be the start of a boundary (the boundary is searched for across
chunk edges with `bytes.find`).

Which part: the first one with a `filename` in its Content-Disposition; when
no part has one, the first part. The first part is written tentatively and
replaced (`sink.reset()`) if a later part turns out to be a file.

Accepted beyond RFC 7578: bare LF line breaks (when the first boundary line
ends with LF alone), and blanks after a boundary on its line. Required: a
`boundary` parameter, at least one part and the closing `--boundary--` line.
"""

from __future__ import annotations

import re
from typing import Optional, Protocol

from faassupervisor.errors import BadInput
from faassupervisor.paths import safe_relative

MAX_HEADER_BYTES = 16 * 1024  # one part's header block; real ones are ~200 bytes
MAX_NAME_BYTES = 255  # a file name longer than this cannot be created (NAME_MAX)
MAX_BOUNDARY_PADDING = 256  # blanks tolerated after a boundary on its line (never buffered beyond)

_PREAMBLE, _DELIMITER, _HEADERS, _CONTENT, _EPILOGUE = range(5)
# What may follow "--boundary": "--" (the closing delimiter) or the end of the
# line; and the prefixes of those, while the next chunk is awaited.
_AFTER_DELIMITER = re.compile(rb"(--)|[ \t]*\r?\n")
_AFTER_DELIMITER_SO_FAR = re.compile(rb"-?|[ \t]*\r?")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class Sink(Protocol):
    """Where the chosen part's bytes go."""

    def write(self, data: bytes) -> object: ...

    def reset(self) -> None:
        """Forget everything written so far (a better part was found)."""


def boundary_of(content_type: str) -> bytes:
    """The `boundary` parameter of a multipart Content-Type; BadInput when absent."""
    # deferred: tests/test_supervisor_startup.py
    import email.message

    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if isinstance(boundary, tuple):  # RFC 2231 form
        boundary = boundary[2]
    if not boundary:
        raise BadInput("multipart/form-data body without a boundary parameter in its Content-Type")
    if len(boundary) > 200:
        raise BadInput("multipart/form-data boundary longer than 200 characters")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise BadInput("multipart/form-data boundary is not ASCII") from None


def safe_filename(name: Optional[str]) -> Optional[str]:
    """The last component of an untrusted file name, or None when nothing safe is left.

    `../../etc/passwd` gives `passwd`, `C:\\x\\a.png` gives `a.png`; a NUL byte,
    `..`, `/` or a name too long to create give None (the caller's default name).
    """
    if not name:
        return None
    try:
        last = safe_relative(name).name
    except BadInput:  # NUL, or nothing but separators and dots
        return None
    if len(last.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return None
    return last


def _header_filename(block: bytes) -> Optional[str]:
    """The `filename` of a part's Content-Disposition header, if any (may be empty)."""
    import email.message  # see boundary_of
    import email.utils

    lines: list[str] = []
    for line in block.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()  # folded continuation line
        else:
            lines.append(line)
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "content-disposition":
            header = email.message.Message()
            header["content-disposition"] = value.strip()
            filename = header.get_param("filename", None, "content-disposition")
            if filename is None:
                return None
            return email.utils.collapse_rfc2231_value(filename)
    return None


class MultipartParser:
    """Push parser: `feed(chunk)` any number of times, then `close()` for the file name.

    The chosen part's content is written to `sink`; `close()` returns that part's
    raw file name (None when it has none) and raises BadInput for a malformed body.
    """

    def __init__(self, boundary: bytes, sink: Sink) -> None:
        self._delimiter = b"\n--" + boundary
        self._boundary_line = "--" + boundary.decode("ascii", "replace")
        self._sink = sink
        # A virtual line break in front, so a delimiter may open the body.
        self._buf = bytearray(b"\n")
        self._state = _PREAMBLE
        self._parts = 0
        self._writing = False  # the current part's content goes to the sink
        self._found_file = False  # a part with a file name was chosen: ignore the rest
        self._filename: Optional[str] = None

    def feed(self, chunk: bytes) -> None:
        if self._state == _EPILOGUE:
            return  # ignored, as RFC 2046 says
        self._buf += chunk
        self._run(final=False)

    def close(self) -> Optional[str]:
        self._run(final=True)
        if self._state == _PREAMBLE:
            raise BadInput(f"multipart/form-data body without any {self._boundary_line!r} boundary line")
        if self._state != _EPILOGUE:
            raise BadInput(
                f"multipart/form-data body ends without its closing boundary {self._boundary_line + '--'!r}"
            )
        if not self._parts:
            raise BadInput("multipart/form-data body has no part")
        return self._filename

    # -- internals ---------------------------------------------------------

    def _run(self, final: bool) -> None:
        while True:
            state = self._state
            if state == _EPILOGUE:
                self._buf.clear()
                return
            if state == _HEADERS:
                if not self._headers(final):
                    return
            elif not self._find_delimiter(final):
                return

    def _find_delimiter(self, final: bool) -> bool:
        """In the preamble or a part's content: look for the next delimiter line.

        Emits the content that certainly precedes it; True when the state moved on.
        """
        buf, delimiter = self._buf, self._delimiter
        start = 0
        while True:
            i = buf.find(delimiter, start)
            if i < 0:
                self._emit(len(buf) - len(delimiter) + 1)  # the tail may start a delimiter
                return False
            after = i + len(delimiter)
            m = _AFTER_DELIMITER.match(buf, after)
            if m is None:
                pending = len(buf) - after <= MAX_BOUNDARY_PADDING
                if pending and not final and _AFTER_DELIMITER_SO_FAR.fullmatch(buf, after):
                    self._emit(i)
                    return False  # undecided until more bytes come
                start = i + 1  # "--boundaryX": content that merely looks like a boundary
                continue
            # (read the match before the buffer moves: groups are sliced lazily)
            closing, line_end = m.start(1) >= 0, m.end()
            if self._state == _PREAMBLE and not closing and buf[line_end - 2:line_end] == b"\r\n":
                # The first delimiter line sets the style: CRLF (every real client)
                # makes the CR part of all later delimiters; bare LF is tolerated.
                self._delimiter = b"\r" + delimiter
            self._emit(i)
            del buf[: line_end - i]
            if self._state == _CONTENT:
                self._writing = False
            self._state = _EPILOGUE if closing else _HEADERS
            return True

    def _emit(self, end: int) -> None:
        """Drop buf[:end], writing it to the sink when it is the chosen part's content."""
        if end <= 0:
            return
        if self._writing:
            self._sink.write(bytes(self._buf[:end]))
        del self._buf[:end]

    def _headers(self, final: bool) -> bool:
        buf = self._buf
        if buf[:1] == b"\n" or buf[:2] == b"\r\n":
            end, block_end = (1 if buf[:1] == b"\n" else 2), 0  # no header at all
        else:
            m = _HEADER_END.search(buf, 0, MAX_HEADER_BYTES + 4)
            if m is None:
                if len(buf) > MAX_HEADER_BYTES:
                    raise BadInput(f"multipart/form-data part headers longer than {MAX_HEADER_BYTES} bytes")
                if final:
                    raise BadInput("multipart/form-data body ends inside a part's headers")
                return False
            end, block_end = m.end(), m.start()
        filename = _header_filename(bytes(buf[:block_end])) if block_end else None
        del buf[:end]
        self._parts += 1
        self._state = _CONTENT
        if self._found_file:
            self._writing = False
        elif filename:
            if self._parts > 1:
                self._sink.reset()  # the first part was only a stand-in
            self._found_file = True
            self._writing = True
            self._filename = filename
        else:
            self._writing = self._parts == 1
        return True
