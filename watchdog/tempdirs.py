"""Each invocation's private TMPDIR, recycled instead of created and removed every time.

The child gets a 0700 directory of its own as TMPDIR, which a forked supervisor
also uses as its work dir (`InvocationOptions.work_dir`), and whatever an
invocation leaves there, killed or not, is removed by the watchdog. Creating
and removing a directory costs a journal update each (milliseconds on a busy
disk), so a directory is cleared and reused by the next invocation instead,
the supervisor's `input/` and `output/` kept in it, emptied
(`faassupervisor.workdir.clear`); one directory is never used by two
invocations at once.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import List

from faassupervisor import workdir

KEEP = 64  # idle directories kept for reuse
PREFIX = "fwatchdog-"  # then the worker's pid: what a worker killed with SIGKILL left is found by it


class TempDirUnavailable(Exception):
    """No private directory can be made under TMPDIR (missing, read-only, full): one line naming it."""


def remove_left_by(parent: str, pid: int) -> bool:
    """Remove the private dirs of worker `pid`, which is gone (killed: it could not clear them);
    whether some are still there (an invocation being killed may still write in one)."""
    prefix = f"{PREFIX}{pid}-"
    try:
        names = [name for name in os.listdir(parent) if name.startswith(prefix)]
    except OSError:
        return False
    left = False
    for name in names:
        path = os.path.join(parent, name)
        workdir.remove(path)
        left = left or os.path.lexists(path)
    return left


class TempDirPool:
    def __init__(self, parent: str):
        self.parent = parent
        self._free: List[str] = []
        self._dirty: List[str] = []  # could not be removed (a read-only TMPDIR): removed once it can be
        self._lock = threading.Lock()

    def acquire(self) -> str:
        with self._lock:
            dirty, self._dirty = self._dirty, []
            path = self._free.pop() if self._free else None
        if dirty:
            self._retry(dirty)
        if path is not None:
            return path
        try:
            return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self.parent)
        except OSError as err:
            raise TempDirUnavailable(workdir.environment_fault(err, self.parent, making=True)) from None

    def release(self, path: str) -> None:
        """Clear `path` (its invocation is over: nothing writes there any more) and keep it for
        reuse, unless something in it could not be removed."""
        if workdir.clear(path):
            with self._lock:
                if len(self._free) < KEEP:
                    self._free.append(path)
                    return
        self._retry([path])

    def _retry(self, paths: List[str]) -> None:
        """Remove `paths`; keep what is still there for a later try (nothing is left for good)."""
        for path in paths:
            workdir.remove(path)
            if os.path.lexists(path):
                with self._lock:
                    self._dirty.append(path)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free + self._dirty, []
            self._dirty = []
        for path in free:
            workdir.remove(path)
