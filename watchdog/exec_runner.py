"""Exec mode: run `fprocess` per request, as the classic watchdog does.

The command gets the request body on stdin and answers on stdout; with
`combine_output` its stderr joins the response, otherwise it goes straight to
the container log. `subprocess` forks and execs in C, so starting it from a
gunicorn worker thread is safe. It starts in a new session, so a timeout
kills everything it started, not just the direct child (classic's gap).
"""

from __future__ import annotations

import os
import subprocess
from typing import Mapping, Optional, Sequence

from fwatchdog.child import Child
from fwatchdog.request_environ import child_environ


class ExecChild(Child):
    def __init__(self, process: subprocess.Popen, stdin: Optional[int], stdout: int):
        self.process = process
        self.pid = process.pid
        self.stdin = stdin
        self.stdout = stdout
        # A pidfd turns "the process exited" into a readable descriptor, so its exit is seen
        # even while a background job it left behind keeps its stdout open.
        try:
            self.pidfd: Optional[int] = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def event_fds(self):
        return [] if self.pidfd is None else [self.pidfd]

    def handle_event(self, fd: int) -> None:
        self.wait(0)

    def wait(self, timeout: Optional[float]) -> Optional[int]:
        try:
            self.exit_status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_pidfd()
        return self.exit_status

    def _close_pidfd(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def close(self) -> None:
        super().close()
        self._close_pidfd()


class ExecRunner:
    """Starts `argv` per request."""

    supervisor = False

    def __init__(self, argv: Sequence[str], combine_output: bool, environ: Mapping[str, str]):
        self.argv = list(argv)
        self.combine_output = combine_output
        self.environ = environ  # the watchdog's: each request's variables are laid over it

    def start(self, variables: Mapping[str, str], stdin_fd: Optional[int] = None,
              work_dir: Optional[str] = None) -> ExecChild:
        """Start one invocation with the request's `variables` added to the environment; `stdin_fd`
        (a file) replaces the body pipe when given.

        `work_dir` is not lent to an exec'd command, which cannot be told about it (a
        `python -m faassupervisor` makes its own work dir under TMPDIR, as anywhere else)."""
        body_read, body_write = (stdin_fd, None) if stdin_fd is not None else os.pipe()
        out_read, out_write = os.pipe()
        try:
            process = subprocess.Popen(
                self.argv,
                stdin=body_read,
                stdout=out_write,
                stderr=subprocess.STDOUT if self.combine_output else None,
                env=child_environ(self.environ, variables),
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            for fd in (body_write, out_read):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            if stdin_fd is None:
                os.close(body_read)
            os.close(out_write)
        return ExecChild(process, body_write, out_read)
