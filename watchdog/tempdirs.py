"""Each invocation's private TMPDIR, recycled instead of created and removed every time.

The child gets a 0700 directory of its own as TMPDIR (the supervisor makes its
work dirs inside), and whatever a killed invocation leaves there is removed by
the watchdog. Creating and removing a directory costs a journal update each
(milliseconds on a busy disk), so a directory is emptied and reused by the next
invocation instead; one directory is never used by two invocations at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import List

KEEP = 64  # idle directories kept for reuse


class TempDirPool:
    def __init__(self, parent: str):
        self.parent = parent
        self._free: List[str] = []
        self._lock = threading.Lock()

    def acquire(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop()
        return tempfile.mkdtemp(prefix="fwatchdog-", dir=self.parent)

    def release(self, path: str) -> None:
        """Empty `path` (its invocation is over: nothing writes there any more) and keep it for reuse."""
        try:
            entries = os.listdir(path)
        except FileNotFoundError:
            return
        for name in entries:
            entry = os.path.join(path, name)
            if os.path.isdir(entry) and not os.path.islink(entry):
                shutil.rmtree(entry, ignore_errors=True)
            else:
                try:
                    os.unlink(entry)
                except OSError:
                    pass
        with self._lock:
            if len(self._free) < KEEP:
                self._free.append(path)
                return
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for path in free:
            shutil.rmtree(path, ignore_errors=True)
