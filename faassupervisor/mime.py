"""The input file's MIME type (python-magic), and an extension for files that have none.

Scripts often need an extension (the plants example renamed its input by hand),
so an extension-less input gets the usual one for its detected type.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Optional

# Preferred extensions where `mimetypes` picks an odd one first (e.g. '.jpe').
_PREFERRED = {
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
    "application/json": ".json",
    "audio/mpeg": ".mp3",
    "audio/x-wav": ".wav",
    "audio/wav": ".wav",
    "image/tiff": ".tiff",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/x-gzip": ".gz",
}


def detect(path) -> str:
    """libmagic's MIME type of the file's content (reads only its first bytes); `path`: str or path-like."""
    import magic  # deferred: tests/test_supervisor_startup.py

    try:
        return magic.from_file(str(path), mime=True) or "application/octet-stream"
    except (OSError, magic.MagicException):
        return "application/octet-stream"


def extension_for(mime: str) -> Optional[str]:
    if mime in _PREFERRED:
        return _PREFERRED[mime]
    if mime in ("application/octet-stream", "inode/x-empty"):
        return None
    import mimetypes  # deferred: tests/test_supervisor_startup.py

    return mimetypes.guess_extension(mime, strict=False)


def with_extension(path: str, mime: str) -> str:
    """Rename an extension-less file to carry its type's extension; returns the (new) path.

    A str, not a Path, on a forked supervisor's way (see `faassupervisor.config.settings`).
    Whether the name has an extension is decided as pathlib's `suffix` does: a dot that
    neither starts nor ends the name."""
    name_start = path.rfind("/") + 1
    if name_start < path.rfind(".", name_start) < len(path) - 1:
        return path
    ext = extension_for(mime)
    if not ext:
        return path
    target = path + ext
    try:
        os.rename(path, target)
    except OSError:  # the name is at the file system's length limit: the script gets it as it is
        return path
    return target
