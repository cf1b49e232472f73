"""Turning untrusted names (object keys, zip and multipart file names) into safe paths,
and listing what a script left in its output directory."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from faassupervisor.errors import BadInput

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing is start-up time
    from typing import List


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


def output_files(output_dir) -> List[Path]:
    """Every regular file under the output dir (a str or path), recursively, in a stable order.

    Symbolic links are left out (and never followed): a script's link to a
    file elsewhere must neither be answered nor uploaded. Hidden files count.
    Both the response and the uploads use this one listing, so they always
    agree on what the outputs are. A directory that cannot be read (or that
    the script removed) lists as empty.

    Walked with `os.scandir` rather than `Path.rglob`: most invocations leave
    one file or none, and pathlib's glob machinery was a good part of what
    listing them cost a forked supervisor (its pages, copied on first touch).
    """
    found = []
    pending = [os.fspath(output_dir)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        found.append(entry.path)
        except OSError:
            continue
    return sorted(Path(path) for path in found)  # Path order (by component), as before
