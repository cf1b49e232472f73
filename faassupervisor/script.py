"""Running the user script: own process group, output to a file, whole tree killed on the way out.

The script's standard output and error go to one file on disk (never a pipe
read into memory), so its output size is unbounded and the order of lines is
the order it wrote them. After it exits, or when `timeout` passes, every
process it left behind is killed: nothing of one invocation outlives it.

The script is started with `subprocess.Popen` in its own session
(`start_new_session`) and working directory (`cwd=`): nothing of this process
changes around the start, so it stays safe the day a thread runs beside it.
The wait with a timeout is ours (a pidfd, where Popen.wait polls).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
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
            process = spawn(command, env, str(cwd), output)
        except OSError as err:
            raise ScriptFailed(_cannot_start(command, err)) from None
    pid = process.pid
    timed_out = False
    try:
        if timeout is not None and not _exited_within(pid, timeout):
            timed_out = True
            _kill_group(pid)
        returncode = process.wait()
    except BaseException:
        # Interrupted (SIGTERM from the watchdog turned into an exception): leave nothing behind.
        _kill_group(pid)
        process.wait()
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


def spawn(argv: list, env: Mapping[str, str], cwd: str, output) -> subprocess.Popen:
    """Start `argv` in `cwd` and its own session, stdin /dev/null, stdout and stderr to `output`.

    Its own session and group: signals to the watchdog do not hit it twice, and
    killpg reaches it all. No other descriptor of ours reaches it (close_fds)."""
    return subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)


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
