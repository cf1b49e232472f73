"""The synchronous response: one file in base64, a zip of several in base64, or the logs.

Everything is streamed to the output in bounded chunks: a 300 MiB result never
sits in memory. Base64 is produced 3 bytes in, 4 out, chunk by chunk, so the
concatenation is exactly `base64(file)` with no line breaks (what oscar-cli,
oscar-python and `base64 -d` expect); `pybase64` (SIMD) encodes at several
times the speed of the stdlib's `binascii`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pybase64

from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Iterable, Optional, Protocol, Union

    class Writer(Protocol):
        """Where a response goes: a binary file, standard output, or a wrapper of one."""

        def write(self, data: bytes, /) -> int: ...

        def flush(self) -> None: ...

_CHUNK = 3 * (1 << 18)  # multiple of 3: each chunk encodes without padding
TEXT = "text/plain; charset=utf-8"


@record
class Response:
    """What to send: a file (base64 or raw), or text parts (logs, then script output)."""

    file: Optional[Union[str, Path]] = None
    parts: tuple = ()  # bytes, or the path (str or Path) of a file to copy, written in order (the logs response)
    raw: bool = False
    mime: str = TEXT

    @property
    def content_type(self) -> str:
        return self.mime if (self.file is not None and self.raw) else TEXT

    def write_to(self, out: Writer) -> None:
        if self.file is not None:
            if self.raw:
                _copy(self.file, out)
            else:
                write_base64(self.file, out)
        else:
            for part in self.parts:
                if isinstance(part, bytes):
                    out.write(part)
                else:
                    _copy(part, out)
        out.flush()


def build_zip(files: Iterable[Path], root: Union[str, Path], dest: Union[str, Path]) -> Union[str, Path]:
    """A zip of `files` with paths relative to `root`.

    Entry names no unzip can climb with (`faassupervisor.paths.zip_entry_name`):
    a name with `\\`, `:`, a control character or bytes that are not UTF-8 is
    stored escaped, and the log says so; one that would then clash with
    another's name is left out, and the log says that too.

    Deflate at level 1: most of the cost of a higher level is spent on media
    files that do not shrink, and the result is base64-encoded anyway.
    """
    import zipfile  # deferred: tests/test_supervisor_startup.py

    from faassupervisor.paths import zip_entry_name

    log = logging.getLogger(__name__)
    files = list(files)
    plain = {Path(path).relative_to(root).as_posix() for path in files}
    taken = set()
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in files:
            relative = Path(path).relative_to(root).as_posix()
            name = zip_entry_name(relative)
            if name != relative:
                if name in taken or name in plain:
                    log.warning("output %r left out of the zip: its escaped name %r is another file's", relative, name)
                    continue
                log.warning("output %r stored in the zip as %r (escaped: \\, :, control characters, "
                            "bytes that are not UTF-8)", relative, name)
            taken.add(name)
            archive.write(path, name)
    return dest


def write_base64(path: Union[str, Path], out: Writer) -> None:
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            out.write(pybase64.b64encode(chunk))


def _copy(path: Union[str, Path], out: Writer) -> None:
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)


def wants_raw(accept: Optional[str]) -> bool:
    """True when every media range in `Accept` is a non-text type (`application/octet-stream`, `image/png`).

    No header, `*/*` (what curl, requests and oscar-python send) or any text
    type keeps the base64 response existing clients decode.
    """
    if not accept:
        return False
    ranges = [r.split(";", 1)[0].strip().lower() for r in accept.split(",")]
    ranges = [r for r in ranges if r]
    if not ranges:
        return False
    return all(r != "*/*" and not r.startswith("text/") and "/" in r for r in ranges)
