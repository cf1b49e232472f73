"""State the gunicorn arbiter and its workers share: draining, and how much work is in flight.

The arbiter learns of SIGTERM and the workers must answer 503 from then on;
the arbiter decides when to exit and must know whether requests are still
running. Both sides read one small anonymous shared mapping, created before
the workers fork. Counting is done under a lock: a thread lock for the usual
single worker, a process-shared one (which needs /dev/shm) only for several.
"""

from __future__ import annotations

import ctypes
import mmap
import threading


class _Counters(ctypes.Structure):
    _fields_ = [("draining", ctypes.c_int), ("in_flight", ctypes.c_int), ("jobs", ctypes.c_int),
                ("term_allowed", ctypes.c_int)]


class SharedState:
    """Created in the arbiter (or by a standalone app); inherited by forked workers."""

    def __init__(self, processes: int = 1):
        self._memory = mmap.mmap(-1, ctypes.sizeof(_Counters))  # MAP_SHARED | MAP_ANONYMOUS
        self._counters = _Counters.from_buffer(self._memory)
        if processes > 1:
            import multiprocessing  # only then: ~5 ms of every cold start for the usual single worker

            self._lock = multiprocessing.Lock()
        else:
            self._lock = threading.Lock()

    # ---- draining

    @property
    def draining(self) -> bool:
        return bool(self._counters.draining)

    def start_draining(self) -> None:
        self._counters.draining = 1

    # ---- who may stop a worker

    @property
    def term_allowed(self) -> bool:
        """Whether a SIGTERM reaching a worker comes from the arbiter (set just before it sends one).

        A SIGTERM sent to the whole process group (`timeout`, some init systems) reaches the
        workers too; they must keep serving while the arbiter drains, and stop when it says so."""
        return bool(self._counters.term_allowed)

    def allow_term(self) -> None:
        self._counters.term_allowed = 1

    # ---- synchronous invocations

    @property
    def in_flight(self) -> int:
        return self._counters.in_flight

    def try_acquire(self, limit: int) -> bool:
        """Count one more invocation unless `limit` (0: none) is reached."""
        with self._lock:
            if limit and self._counters.in_flight >= limit:
                return False
            self._counters.in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._counters.in_flight -= 1

    # ---- background jobs (accepted, queued or running)

    @property
    def jobs(self) -> int:
        return self._counters.jobs

    def add_job(self, delta: int) -> None:
        with self._lock:
            self._counters.jobs += delta

    @property
    def busy(self) -> int:
        """Everything a graceful shutdown waits for."""
        return self._counters.in_flight + self._counters.jobs
