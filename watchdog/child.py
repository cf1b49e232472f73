"""What the HTTP side sees of one running invocation, whichever way it was started.

A `Child` is a process in a session of its own, with a pipe we write the
request body into and a pipe we read the response from. Exec mode
(`exec_runner`) and fork-server mode (`forkclient`) each implement it, so the
request pipeline (`invocation`) has one code path for both.
"""

from __future__ import annotations

import abc
import os
import signal
from typing import List, Mapping, Optional, Protocol

from faassupervisor import process_tree


class RunnerUnavailable(Exception):
    """Nothing can be started right now (the fork server is restarting); one line, answered 503."""


class Runner(Protocol):
    """What starts one child per invocation: `ExecRunner` or `ForkRunner`."""

    supervisor: bool  # the children are supervisors (their exit statuses mean what ExitStatus says)

    def start(self, variables: Mapping[str, str], stdin_fd: Optional[int] = None,
              work_dir: Optional[str] = None) -> Child: ...


class Child(abc.ABC):
    """One started invocation; `pid` is also its session id."""

    pid: int
    stdin: Optional[int]  # write end of the body pipe, or None when stdin is a file we passed
    stdout: int  # read end of the response pipe
    content_type: Optional[str] = None  # announced by the supervisor before its first byte
    exit_status: Optional[int] = None  # exit code, or -N when killed by signal N

    def event_fds(self) -> List[int]:
        """Extra descriptors to watch besides stdout (the fork server's control socket)."""
        return []

    def handle_event(self, fd: int) -> None:
        """Read what arrived on one of `event_fds`."""

    @abc.abstractmethod
    def wait(self, timeout: Optional[float]) -> Optional[int]:
        """The exit status once the process has exited, or None after `timeout` seconds."""

    def kill(self) -> None:
        """Kill the whole tree: the process, its descendants (even those that left its session
        with setsid), and whatever else is left in its session."""
        if self.exit_status is None:
            # Walked while the process is alive: orphans of its tree are still below it (the
            # supervisor is a subreaper), so none escapes by having lost its parent.
            process_tree.kill_descendants(self.pid)
            # Not reaped yet, so the pid is still ours: kill it directly too, in case it has
            # not reached its setsid() and its session is still its parent's.
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process_tree.kill_session(self.pid)

    def close_stdin(self) -> None:
        if self.stdin is not None:
            _close(self.stdin)
            self.stdin = None

    def close(self) -> None:
        """Release our ends of the pipes (the process itself is waited for elsewhere)."""
        self.close_stdin()
        if self.stdout >= 0:
            _close(self.stdout)
            self.stdout = -1


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
