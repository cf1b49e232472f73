"""Running the user script: own process group, output to a file, whole tree killed on the way out.

The script's standard output and error go to one file on disk (never a pipe
read into memory), so its output size is unbounded and the order of lines is
the order it wrote them. After it exits, or when `timeout` passes, every
process it left behind is killed: nothing of one invocation outlives it.
"""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, NamedTuple, Optional

from faassupervisor import logs, process_tree

log = logs.get_logger(__name__)


class ScriptResult(NamedTuple):
    returncode: int  # negative: killed by that signal (subprocess's convention)
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


def command_for(script: Path) -> list:
    """The script's own shebang when it is executable, else `/bin/sh script` (OSCAR's habit)."""
    try:
        with open(script, "rb") as handle:
            has_shebang = handle.read(2) == b"#!"
    except OSError:
        has_shebang = False
    if has_shebang and os.access(script, os.X_OK):
        return [str(script)]
    return ["/bin/sh", str(script)]


def run_script(
    script: Path,
    env: Mapping[str, str],
    cwd: Path,
    output_path: Path,
    timeout: Optional[float] = None,
) -> ScriptResult:
    """Run `script` to completion (or timeout) and kill whatever it left running."""
    process_tree.become_subreaper()
    # Children we already had (a test harness's servers, say) are not the script's to kill.
    previous = frozenset(process_tree.children(os.getpid()))
    started = time.monotonic()
    with open(output_path, "wb") as output:
        proc = subprocess.Popen(
            command_for(script),
            cwd=str(cwd),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and group: signals to the watchdog do not hit it twice
            close_fds=True,
        )
    timed_out = False
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        returncode = proc.wait()
    except BaseException:
        # Interrupted (SIGTERM from the watchdog turned into an exception): leave nothing behind.
        _kill_group(proc.pid)
        proc.wait()
        process_tree.kill_descendants(os.getpid(), exclude=previous)
        raise
    seconds = time.monotonic() - started
    # Background jobs the script forgot, and orphans re-parented to us as subreaper.
    _kill_group(proc.pid)
    left = process_tree.kill_descendants(os.getpid(), exclude=previous)
    if left:
        log.warning("killed %d process(es) the script left running", left)
        process_tree.reap_orphans(previous)
    return ScriptResult(returncode=returncode, timed_out=timed_out, seconds=seconds)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
