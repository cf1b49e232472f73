"""An invocation's private work directory: made 0700 under TMPDIR, removed in every outcome.

Or, under the watchdog, lent: the watchdog hands each invocation a private
directory from a pool and clears it afterwards (`clear`), keeping the
`input/` and `output/` directories there for the next invocation. Making and
removing three directories per request was about a sixth of the watchdog's CPU
per request at 4 concurrent requests here (each mkdir/rmdir updates the parent
directory and the inode table, and concurrent ones contend for them).

Made with `tempfile.mkdtemp` (0700, an unguessable name) and removed with
`shutil.rmtree`, which never follows a symbolic link inside the tree.
"""

import errno
import os
import shutil
import tempfile

PREFIX = "faas-supervisor-"
DEFAULT_PARENT = "/tmp"  # when TMPDIR is unset (tempfile's first choice on Linux too)
INPUT_DIR = "input"
OUTPUT_DIR = "output"
KEPT_DIRS = (INPUT_DIR, OUTPUT_DIR)  # what `clear` keeps (emptied) in a lent work dir


def make(parent=None, prefix: str = PREFIX) -> str:
    """A new directory only this user can enter, with an unguessable name."""
    return tempfile.mkdtemp(prefix=prefix, dir=parent or DEFAULT_PARENT)


# What the environment did (not the script, not the client): the work dir's file system.
_ENVIRONMENT_ERRORS = {
    errno.EROFS: "is not writable: read-only file system",
    errno.ENOSPC: "is full: no space left on device",
    errno.EDQUOT: "is full: disk quota exceeded",
}


def environment_fault(err: OSError, parent: str, making: bool = False):
    """The one line saying why TMPDIR `parent` failed us, or None when `err` is not about it.

    `making`: `err` came from making a directory in `parent`, so a missing or closed parent
    is its fault too."""
    reason = _ENVIRONMENT_ERRORS.get(err.errno) if err.errno is not None else None
    if reason is None and making:
        reason = f"is not usable: {(err.strerror or str(err)).lower()}"
    return None if reason is None else f"TMPDIR {parent} {reason}"


def unusable(parent: str):
    """Why new work dirs cannot be made under `parent` right now (one line), or None."""
    try:
        info = os.statvfs(parent)
    except OSError as err:
        return f"TMPDIR {parent} is not usable: {(err.strerror or str(err)).lower()}"
    if info.f_flag & os.ST_RDONLY:
        return f"TMPDIR {parent} {_ENVIRONMENT_ERRORS[errno.EROFS]}"
    if not os.path.isdir(parent):
        return f"TMPDIR {parent} is not usable: not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"TMPDIR {parent} is not usable: permission denied"
    return None


def remove(path: str) -> None:
    """Delete `path` and everything under it, never following symbolic links; errors are ignored."""
    if os.path.islink(path):  # a script put a link in its work dir's place: only the link goes
        _unlink(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _listed(path: str) -> list:
    """(name, path, is it a directory) of each entry, links never followed; listed before any
    entry is removed, so removing does not disturb the listing."""
    with os.scandir(path) as entries:
        return [(entry.name, entry.path, entry.is_dir(follow_symlinks=False)) for entry in entries]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def clear(path: str) -> bool:
    """Empty a lent work dir for its next invocation; whether it is now fit to lend again.

    Everything goes except `KEPT_DIRS`, which are emptied and kept when they are
    still plain directories closed to others (0700). A script may have replaced one
    with a symbolic link, or opened it up: that one is removed (never followed),
    and the next invocation makes it again. Errors are ignored; anything left
    behind makes the directory unfit (False).
    """
    if os.path.islink(path):  # the script replaced the work dir itself: never clear a link's target
        _unlink(path)
        return False
    try:
        for name, entry_path, is_dir in _listed(path):
            if is_dir and name in KEPT_DIRS and _private_dir(entry_path):
                for _name, inner_path, inner_is_dir in _listed(entry_path):
                    _remove_entry(inner_path, inner_is_dir)
            else:
                _remove_entry(entry_path, is_dir)
    except OSError:
        return False
    return True


def _private_dir(path: str) -> bool:
    return os.lstat(path).st_mode & 0o7777 == 0o700


def _remove_entry(path: str, is_dir: bool) -> None:
    if is_dir:
        remove(path)
        if os.path.lexists(path):
            raise OSError(f"cannot remove {path}")
    else:
        _unlink(path)
