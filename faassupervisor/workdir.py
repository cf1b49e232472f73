"""An invocation's private work directory: made 0700 under TMPDIR, removed in every outcome.

Why not `tempfile.mkdtemp` and `shutil.rmtree`: importing the two (with
`random`, `hashlib`, `bz2`, `lzma` behind them) costs about 4 ms of a start-up
that every request pays, for one mkdir and the removal of a small tree.
`shutil.rmtree` stays the fallback for trees the quick removal cannot take
(a script that made a directory unwritable, say).
"""

import os

PREFIX = "faas-supervisor-"
DEFAULT_PARENT = "/tmp"  # when TMPDIR is unset (tempfile's first choice on Linux too)


def make(parent=None) -> str:
    """A new directory only this user can enter, with an unguessable name."""
    parent = parent or DEFAULT_PARENT
    for _ in range(16):
        path = os.path.join(parent, PREFIX + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # 48 random bits: only ever reached by design of an attacker
        return path
    raise FileExistsError(f"no unused work directory name under {parent}")


def remove(path: str) -> None:
    """Delete `path` and everything under it, never following symbolic links; errors are ignored."""
    try:
        _remove_tree(path)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil  # deferred: the rare tree the quick removal could not take

        shutil.rmtree(path, ignore_errors=True)


def _remove_tree(path: str) -> None:
    with os.scandir(path) as entries:
        listed = [(entry.path, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for entry_path, is_dir in listed:
        if is_dir:
            _remove_tree(entry_path)
        else:
            try:
                os.unlink(entry_path)
            except FileNotFoundError:
                pass
    os.rmdir(path)
