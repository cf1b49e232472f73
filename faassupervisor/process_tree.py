"""Killing a whole process tree, including grandchildren that outlived their parent.

`subprocess` kills only the direct child, and killing a process group misses
descendants that moved to a group of their own (`set -m`, job control). The
supervisor therefore makes itself a *child subreaper*: orphaned descendants are
re-parented to it instead of to init, so walking `/proc` from our own pid
finds every process the script started, and killing that set leaves nothing.
The watchdog uses `kill_session` for the same purpose on the supervisor it
started with `setsid`.
"""

from __future__ import annotations

import os
import signal
import time
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Dict, List, Optional, Set

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_prctl = None  # libc's prctl, loaded once: a fork server's children inherit it ready to call


def prctl(option: int, value: int) -> bool:
    """Linux prctl(2) with one argument, through libc; False where it is not available."""
    global _prctl
    try:
        if _prctl is None:
            import ctypes  # deferred: only needed once per process, right before a script starts

            _prctl = ctypes.CDLL(None).prctl  # errno is never read: without use_errno, calls touch less
        return _prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); returns whether it worked."""
    return prctl(_PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(sig: int) -> bool:
    """The signal this process gets when the one that forked it dies (0: none)."""
    return prctl(_PR_SET_PDEATHSIG, sig)


@record
class ProcState:
    """What /proc/PID/stat says of one process that matters for killing trees."""

    state: str  # "R", "S", "Z" (zombie), ...
    ppid: int
    pgid: int
    sid: int


def stat(pid: int) -> Optional[ProcState]:
    """The process's state, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return ProcState(fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]))


def process_table() -> Dict[int, ProcState]:
    """Every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = stat(int(entry))
            if found is not None:
                table[int(entry)] = found
    return table


def children(pid: int) -> List[int]:
    """Direct children of `pid`, from /proc/PID/task/*/children (no full /proc scan)."""
    found: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.extend(int(x) for x in handle.read().split())
        except OSError:
            # Kernel without CONFIG_PROC_CHILDREN: fall back to scanning every process.
            return [child for child, proc in process_table().items() if proc.ppid == pid]
    return found


def descendants(pid: int, exclude=()) -> List[int]:
    """Every living descendant of `pid` (children first), skipping the subtrees in `exclude`."""
    found, queue = [], [c for c in children(pid) if c not in exclude]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children(current))
    return found


def session_members(sid: int) -> List[int]:
    """Every process in session `sid` (what `setsid` started and all it forked)."""
    return [pid for pid, proc in process_table().items() if proc.sid == sid]


def _kill_all(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_descendants(pid: int, sig: int = signal.SIGKILL, rounds: int = 5, exclude=()) -> int:
    """Kill every descendant of `pid` but the `exclude` subtrees, repeatedly (to catch late forks)."""
    killed: Set[int] = set()
    for _ in range(rounds):
        live = [p for p in descendants(pid, exclude) if not _is_zombie(p)]
        if not live:
            break
        _kill_all(live, sig)
        killed.update(live)
    return len(killed)


def kill_session(sid: int, sig: int = signal.SIGKILL, rounds: int = 5) -> int:
    """Kill every process of session `sid`, repeatedly until none is left alive."""
    killed: Set[int] = set()
    for _ in range(rounds):
        live = [p for p in session_members(sid) if not _is_zombie(p)]
        if not live:
            break
        _kill_all(live, sig)
        killed.update(live)
    return len(killed)


def _is_zombie(pid: int) -> bool:
    proc = stat(pid)
    return proc is None or proc.state in ("Z", "X")


def reap_orphans(keep=()) -> None:
    """Collect the exit statuses of adopted orphans (our children not in `keep`) so no zombie stays."""
    pending = [c for c in children(os.getpid()) if c not in keep]
    deadline = time.monotonic() + 1.0  # killed with SIGKILL: they are gone within moments
    while pending and time.monotonic() < deadline:
        still = []
        for child in pending:
            try:
                if os.waitpid(child, os.WNOHANG)[0] == 0:
                    still.append(child)
            except ChildProcessError:
                pass
        pending = still
        if pending:
            time.sleep(0.002)


def reap_children(on_exit=None) -> bool:
    """Collect every child that has ended, without waiting (`on_exit(pid, wait status)` for each);
    whether any child is still running. For processes whose children are all theirs (a fork server)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        if on_exit is not None:
            on_exit(pid, status)
