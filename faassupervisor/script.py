"""Running the user script: own process group, output to a file, whole tree killed on the way out.

The script's standard output and error go to one file on disk (never a pipe
read into memory), so its output size is unbounded and the order of lines is
the order it wrote them. After it exits, or when `timeout` passes, every
process it left behind is killed: nothing of one invocation outlives it.

The script is started with `os.posix_spawn` rather than `subprocess`, whose
import (selectors, threading, locale) is about 4 ms of a start-up every request
pays; what Popen did for us here (own session, standard streams, closing our
other descriptors, waiting with a timeout) is a few lines below.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import time

from faassupervisor import process_tree
from faassupervisor.errors import ScriptFailed
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Mapping, Optional

log = logging.getLogger(__name__)


@record
class ScriptResult:
    returncode: int  # negative: killed by that signal (os.waitstatus_to_exitcode's convention)
    timed_out: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"script timed out after {self.seconds:.1f}s and was killed"
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = str(-self.returncode)
            return f"script killed by signal {name}"
        return f"script exited with status {self.returncode}"


def command_for(script: str) -> list:
    """The script's own shebang when it is executable, else `/bin/sh script` (OSCAR's habit)."""
    script = os.path.abspath(script)  # it runs in another working directory
    try:
        with open(script, "rb") as handle:
            has_shebang = handle.read(2) == b"#!"
    except OSError:
        has_shebang = False
    if has_shebang and os.access(script, os.X_OK):
        return [str(script)]
    return ["/bin/sh", str(script)]


def run_script(
    script: str,
    env: Mapping[str, str],
    cwd: str,
    output_path: str,
    timeout: Optional[float] = None,
) -> ScriptResult:
    """Run `script` to completion (or timeout) and kill whatever it left running."""
    process_tree.become_subreaper()
    # Children we already had (a test harness's servers, say) are not the script's to kill.
    previous = frozenset(process_tree.children(os.getpid()))
    started = time.monotonic()
    command = command_for(script)
    with open(output_path, "wb") as output:
        try:
            pid = spawn(command, env, str(cwd), output.fileno())
        except OSError as err:
            raise ScriptFailed(_cannot_start(command, err)) from None
    timed_out = False
    try:
        returncode = _wait(pid, timeout)
        if returncode is None:
            timed_out = True
            _kill_group(pid)
            returncode = _wait(pid, None)
    except BaseException:
        # Interrupted (SIGTERM from the watchdog turned into an exception): leave nothing behind.
        _kill_group(pid)
        _wait(pid, None)
        process_tree.kill_descendants(os.getpid(), exclude=previous)
        raise
    seconds = time.monotonic() - started
    # Background jobs the script forgot, and orphans re-parented to us as subreaper.
    _kill_group(pid)
    left = process_tree.kill_descendants(os.getpid(), exclude=previous)
    if left:
        log.warning("killed %d process(es) the script left running", left)
        process_tree.reap_orphans(previous)
    return ScriptResult(returncode=returncode, timed_out=timed_out, seconds=seconds)


def _cannot_start(command: list, err: OSError) -> str:
    """Why exec failed, naming the `#!` line when that is what could not be run."""
    if len(command) == 1:
        try:
            with open(command[0], "rb") as handle:
                shebang = handle.readline(200).strip().decode("utf-8", "replace")
        except OSError:
            return f"cannot start the script {command[0]}: {err.strerror}"
        return f"cannot start the script with {shebang!r}: {err.strerror}"
    return f"cannot start the script with {command[0]}: {err.strerror}"


def spawn(argv: list, env: Mapping[str, str], cwd: str, output_fd: int) -> int:
    """Start `argv` in its own session, stdin /dev/null, stdout and stderr to `output_fd`; its pid.

    Like Popen's close_fds, no other descriptor of ours reaches the script (most
    are close-on-exec already; inherited ones are closed explicitly).
    posix_spawn has no working-directory argument, so the supervisor moves into
    `cwd` for the spawn and back: it is a single-threaded process here, and the
    spawn is the only step that uses the working directory.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, output_fd, 1),
        (os.POSIX_SPAWN_DUP2, output_fd, 2),
    ]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds() if fd != output_fd]
    home = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(cwd)
        # own session and group: signals to the watchdog do not hit it twice, and killpg reaches it all
        return os.posix_spawn(argv[0], argv, dict(env), file_actions=actions, setsid=True)
    finally:
        os.fchdir(home)
        os.close(home)


def _inherited_fds() -> list:
    """Our descriptors above 2 that an exec would pass on (not close-on-exec)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:
                pass  # the listing's own descriptor, closed by now
    return found


def _wait(pid: int, timeout: Optional[float]) -> Optional[int]:
    """The exit code (negative: killed by that signal), or None when `timeout` seconds passed first."""
    if timeout is not None and not _exited_within(pid, timeout):
        return None
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _exited_within(pid: int, timeout: float) -> bool:
    try:
        pidfd = os.pidfd_open(pid)  # readable when the process exits (Linux >= 5.3)
    except (AttributeError, OSError):
        return _polled_exit(pid, timeout)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if poller.poll(max(1, int(left * 1000) + 1)):
                return True
    finally:
        os.close(pidfd)


def _polled_exit(pid: int, timeout: float) -> bool:
    """Without pidfds (old kernels, strict seccomp): look every few milliseconds, as Popen.wait does."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.05)
    return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
