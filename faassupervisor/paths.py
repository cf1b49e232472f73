"""Turning untrusted names (object keys, zip and multipart file names) into safe paths,
and listing what a script left in its output directory."""

from __future__ import annotations

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


def output_files(output_dir: Path) -> List[Path]:
    """Every regular file under the output dir, recursively, in a stable order.

    Symbolic links are left out: a script's link to a file elsewhere must
    neither be answered nor uploaded. Both the response and the uploads use
    this one listing, so they always agree on what the outputs are.
    """
    return sorted(p for p in output_dir.rglob("*") if p.is_file() and not p.is_symlink())
