"""Turning untrusted names (object keys, zip and multipart file names) into safe paths,
and listing what a script left in its output directory."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path, PurePosixPath

from faassupervisor.errors import BadInput

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import List

log = logging.getLogger(__name__)


def safe_relative(name: str) -> PurePosixPath:
    """A relative path with no `..`, no absolute root and no NUL; BadInput if nothing is left."""
    if "\x00" in name:
        raise BadInput(f"name {name!r} contains a NUL byte")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        raise BadInput(f"name {name!r} has no usable path component")
    return PurePosixPath(*parts)


def safe_join(root: Path, name: str) -> Path:
    """`root / name` sanitised so that the result is always inside `root`."""
    return Path(root, *safe_relative(name).parts)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def output_files(output_dir) -> List[Path]:
    """Every regular file under the output dir (a str or path), recursively, in a stable order.

    Symbolic links are never followed, the output dir itself included: a script
    that replaced `$TMP_OUTPUT_DIR` (or a folder in it) by a link to somewhere
    else has that link ignored, with a warning, and a link to a file is left
    out, so nothing outside the work dir is ever answered or uploaded. Each
    directory is opened with O_NOFOLLOW relative to its parent's descriptor.
    (The work dir above it is checked by the invocation: see
    `faassupervisor.invocation._check_same_dir`.) Hidden files count. Both the response
    and the uploads use this one listing, so they always agree on what the
    outputs are. A directory that cannot be read (or that the script removed)
    lists as empty.

    Walked with `os.scandir` rather than `Path.rglob`: most invocations leave
    one file or none, and pathlib's glob machinery was a good part of what
    listing them cost a forked supervisor (its pages, copied on first touch).
    """
    root = os.fspath(output_dir)
    found = []
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(root):
            log.warning("%s is a symbolic link (the script replaced it): not followed, no outputs", root)
        return []
    pending = [(fd, root)]
    while pending:
        fd, path = pending.pop()
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        try:
                            pending.append((os.open(entry.name, _DIR_FLAGS, dir_fd=fd), os.path.join(path, entry.name)))
                        except OSError:
                            continue  # replaced meanwhile, or closed to us: not an output
                    elif entry.is_file(follow_symlinks=False):
                        found.append(os.path.join(path, entry.name))
        except OSError:
            continue
        finally:
            os.close(fd)
    return sorted(Path(path) for path in found)  # Path order (by component), as before



# Characters an unzip may read as a path separator or a drive (`..\\..\\x`, `C:x`).
_ZIP_UNSAFE = "\\:"


def zip_entry_name(relative: str) -> str:
    """`relative` (a path under the output dir, `/`-separated) as a zip entry name no unzip can
    climb with: unchanged when it is plain UTF-8 without `\\`, `:` or control characters; else
    each such character, and each byte that is not UTF-8, as `%XX` (so `%` too, for it to be
    read back unambiguously)."""
    return _escaped(relative, _ZIP_UNSAFE, control=True)


def object_key_name(relative: str) -> str:
    """`relative` as (part of) an object key, which must be UTF-8: unchanged when it is; else
    each byte that is not UTF-8 as `%XX` (and `%` too). `\\` and `:` are fine in keys."""
    return _escaped(relative, "", control=False)


def _escaped(name: str, unsafe: str, control: bool) -> str:
    if not any(_needs_escape(char, unsafe, control) for char in name):
        return name
    escaped = []
    for char in name:
        if "\udc80" <= char <= "\udcff":  # os.fsdecode's stand-in for a byte that is not UTF-8
            escaped.append("%%%02X" % (ord(char) - 0xDC00))
        elif char == "%" or _needs_escape(char, unsafe, control):
            escaped.extend("%%%02X" % byte for byte in char.encode("utf-8", "surrogatepass"))
        else:
            escaped.append(char)
    return "".join(escaped)


def _needs_escape(char: str, unsafe: str, control: bool) -> bool:
    return (char in unsafe or "\ud800" <= char <= "\udfff"
            or (control and not char.isprintable() and char != " "))
