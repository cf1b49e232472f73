"""The classic watchdog's lock file: present while the function is healthy.

Exec health probes (`cat /tmp/.lock`) and `/_/health` both look at it:
written once the server listens, removed on SIGTERM so probes fail while
in-flight requests drain, removed again at exit.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def write(path: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    log.info("lock file written: %s", path)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def present(path: str) -> bool:
    return os.path.exists(path)
