"""State the gunicorn arbiter and its workers share: draining, and how much work is in flight.

The arbiter learns of SIGTERM and the workers must answer 503 from then on;
the arbiter decides when to exit and must know whether requests are still
running. Both sides read one small anonymous shared mapping, created before
the workers fork.

Counts are kept per worker process, in a slot of its own that only it writes
(under a thread lock of its own): a worker killed with SIGKILL can leave no
process-shared lock held and no count behind, as the arbiter clears a dead
worker's slot when it reaps it (`forget`). Its invocations no longer hold a
`max_inflight` place, and the drain no longer waits for them.

`max_inflight` is checked by counting first and looking after: a worker adds
the invocation to its own slot, then sums every slot, and takes it back when
the sum is over the limit. Two workers racing for the last place may both
refuse (a 429 that a retry fixes), but the limit is never exceeded.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading

SLOTS = 64  # worker processes counted at once (the arbiter frees a dead one's slot)


class _Counters(ctypes.Structure):
    _fields_ = [("draining", ctypes.c_int), ("term_allowed", ctypes.c_int), ("drain_expired", ctypes.c_int),
                ("lock_pending", ctypes.c_int),
                ("pids", ctypes.c_int * SLOTS), ("in_flight", ctypes.c_int * SLOTS),
                ("jobs", ctypes.c_int * SLOTS)]


class SharedState:
    """Created in the arbiter (or by a standalone app); inherited by forked workers."""

    def __init__(self, processes: int = 1):
        self._memory = mmap.mmap(-1, ctypes.sizeof(_Counters))  # MAP_SHARED | MAP_ANONYMOUS
        self._counters = _Counters.from_buffer(self._memory)
        self._slots = min(SLOTS, 2 * max(1, processes) + 1)  # room for workers being replaced
        self._lock = threading.Lock()  # this process's: it guards only our own slot
        self._mine = (0, -1)  # (pid, slot) once this process has one
        self._reserved = -1  # the slot the arbiter chose for the worker it is about to fork

    # ---- draining

    @property
    def draining(self) -> bool:
        return bool(self._counters.draining)

    def start_draining(self) -> None:
        self._counters.draining = 1

    @property
    def drain_expired(self) -> bool:
        """Whether `write_timeout` after SIGTERM has passed: what still runs is being killed."""
        return bool(self._counters.drain_expired)

    def expire_drain(self) -> None:
        self._counters.drain_expired = 1

    # ---- the lock file

    @property
    def lock_pending(self) -> bool:
        """Whether the lock file could not be written at start (TMPDIR unusable): health writes it
        once TMPDIR is usable again."""
        return bool(self._counters.lock_pending)

    def set_lock_pending(self, pending: bool) -> None:
        self._counters.lock_pending = int(pending)

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
        return self._sum(self._counters.in_flight)

    def try_acquire(self, limit: int) -> bool:
        """Count one more invocation unless `limit` (0: none) is reached."""
        counts = self._counters.in_flight
        with self._lock:
            slot = self._slot()
            counts[slot] += 1
            if limit and self._sum(counts) > limit:
                counts[slot] -= 1
                return False
            return True

    def release(self) -> None:
        with self._lock:
            self._counters.in_flight[self._slot()] -= 1

    # ---- background jobs (accepted, queued or running)

    @property
    def jobs(self) -> int:
        return self._sum(self._counters.jobs)

    def add_job(self, delta: int) -> None:
        with self._lock:
            self._counters.jobs[self._slot()] += delta

    @property
    def busy(self) -> int:
        """Everything a graceful shutdown waits for."""
        return self.in_flight + self.jobs

    # ---- worker processes

    def reserve(self) -> None:
        """In the arbiter, right before it forks a worker: choose the worker's slot. Chosen here,
        one fork at a time, so that workers starting together never take the same one."""
        pids = self._counters.pids
        free = [slot for slot in range(self._slots) if pids[slot] == 0 or (pids[slot] > 0 and not _alive(pids[slot]))]
        if free:
            self._clear(free[0])
            pids[free[0]] = -1  # reserved until the worker writes its pid
            self._reserved = free[0]
        else:
            self._reserved = -1

    def claim(self) -> None:
        """In a new worker: take the slot the arbiter reserved for it."""
        with self._lock:
            self._slot()

    def forget(self, pid: int) -> None:
        """In the arbiter, once worker `pid` is reaped: what it counted is over."""
        counters = self._counters
        for slot in range(self._slots):
            if counters.pids[slot] == pid:
                self._clear(slot)
                counters.pids[slot] = 0

    def _clear(self, slot: int) -> None:
        self._counters.in_flight[slot] = 0
        self._counters.jobs[slot] = 0

    def _sum(self, counts) -> int:
        return sum(counts[slot] for slot in range(self._slots))

    def _slot(self) -> int:
        """This process's slot, claimed on first use (under `_lock`)."""
        pid = os.getpid()
        if self._mine[0] == pid:
            return self._mine[1]
        pids = self._counters.pids
        slot = self._reserved
        if slot < 0:  # a standalone app (no arbiter), or more workers than slots
            free = [s for s in range(self._slots) if pids[s] in (0, pid) or (pids[s] > 0 and not _alive(pids[s]))]
            slot = free[0] if free else 0  # more live workers than slots: share the first one
            if pids[slot] != pid:
                self._clear(slot)
        pids[slot] = pid
        self._mine = (pid, slot)
        return slot


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
