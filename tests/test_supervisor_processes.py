"""Nothing of an invocation outlives it: timeouts, forgotten background jobs, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.conftest import SUPERVISOR

SPAWNER = """#!/bin/sh
sleep 300 &
echo $! > "{pids}/background"
( sleep 300 & echo $! > "{pids}/grandchild"; wait ) &
setsid sleep 300 &
own=$!
echo $own > "{pids}/own-session"
while [ ! -s "{pids}/grandchild" ]; do sleep 0.01; done
# Until setsid has really run: before that, the process is still in the script's group (killed with it).
while [ "$(cut -d' ' -f6 /proc/$own/stat)" != "$own" ]; do sleep 0.01; done
echo started
{tail}
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] not in "ZX"
    except FileNotFoundError:
        return False


def _pids(folder):
    return [int((folder / name).read_text()) for name in ("background", "grandchild", "own-session")]


def _wait_gone(pids, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_timeout_kills_the_whole_tree(sandbox, tmp_path):
    sandbox.write_script(SPAWNER.format(pids=tmp_path, tail="sleep 300"))
    sandbox.write_config("log_level: CRITICAL")
    run = sandbox.supervisor(b"{}", args=["--timeout", "1"])
    assert run.returncode == 1
    assert "script timed out after" in run.stderr
    assert run.text == "started\n"
    assert _wait_gone(_pids(tmp_path)) == []
    assert sandbox.leftovers() == []


def test_background_jobs_are_killed_after_success(sandbox, tmp_path):
    sandbox.write_script(SPAWNER.format(pids=tmp_path, tail="exit 0"))
    run = sandbox.supervisor(b"{}")
    assert run.returncode == 0
    assert "killed" in run.stderr and "left running" in run.stderr
    assert _wait_gone(_pids(tmp_path)) == []
    assert sandbox.leftovers() == []


def test_sigterm_cleans_up(sandbox, tmp_path):
    sandbox.write_script(SPAWNER.format(pids=tmp_path, tail="sleep 300"))
    proc = subprocess.Popen([SUPERVISOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=sandbox.env)
    proc.stdin.write(b"{}")
    proc.stdin.close()
    deadline = time.monotonic() + 10
    # every pid written (not just the last file made): the subshell writes its own late
    while not all((tmp_path / name).exists() and (tmp_path / name).read_text().strip()
                  for name in ("background", "grandchild", "own-session")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    proc.stdout.close()
    proc.stderr.close()
    assert _wait_gone(_pids(tmp_path)) == []
    assert sandbox.leftovers() == []


def test_script_exit_status_and_unbounded_output(sandbox):
    # 20 MiB of output goes through a file, not memory, and arrives whole.
    sandbox.write_script("#!/bin/sh\nhead -c 20971520 /dev/zero | tr '\\0' 'x'\nexit 7\n")
    sandbox.write_config("log_level: CRITICAL")
    run = sandbox.supervisor(b"{}")
    assert run.returncode == 1
    assert len(run.stdout) == 20 * 1024 * 1024 and set(run.stdout) == {ord("x")}
    assert "script exited with status 7" in run.stderr


def test_no_file_descriptor_leaks_into_the_script(sandbox):
    # Probe each descriptor with a stat: listing the directory would open one of its own.
    sandbox.write_script("#!/bin/sh\nfor fd in $(seq 0 64); do [ -e /proc/$$/fd/$fd ] && echo $fd; done; true\n")
    sandbox.write_config("log_level: CRITICAL")
    run = sandbox.supervisor(b"{}")
    assert run.returncode == 0
    # 10 is dash's own descriptor for the script file it reads.
    assert sorted(run.text.split(), key=int) in (["0", "1", "2", "10"], ["0", "1", "2"])


def test_descriptors_the_supervisor_inherited_do_not_reach_the_script(sandbox):
    # A caller (the classic watchdog, a shell) may hand the supervisor extra descriptors.
    sandbox.write_script("#!/bin/sh\nfor fd in $(seq 3 64); do [ -e /proc/$$/fd/$fd ] && echo $fd; done; true\n")
    sandbox.write_config("log_level: CRITICAL")
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.run([SUPERVISOR], input=b"{}", env=sandbox.env, capture_output=True, timeout=60,
                              pass_fds=(read_end, write_end))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 0
    assert proc.stdout.split() in ([b"10"], [])  # 10: dash's own descriptor for the script file


def test_a_script_whose_interpreter_is_missing_fails_with_one_line(sandbox):
    script = sandbox.write_script("#!/nonexistent/interpreter\necho never\n")
    script.chmod(0o755)
    run = sandbox.supervisor(b"{}")
    assert run.returncode == 1
    assert run.text == "error: cannot start the script with '#!/nonexistent/interpreter': No such file or directory\n"
    assert "Traceback" not in run.stderr
    assert sandbox.leftovers() == []


def test_waiting_without_pidfds_still_sees_the_exit_and_the_timeout():
    # Old kernels and strict seccomp profiles have no pidfd_open: the polling fallback must agree.
    from faassupervisor import script

    proc = subprocess.Popen(["sleep", "0.3"])
    try:
        assert script._polled_exit(proc.pid, 0.05) is False
        assert script._polled_exit(proc.pid, 5) is True
        assert proc.wait(timeout=5) == 0  # WNOWAIT: the status is still there to collect
    finally:
        proc.kill()
        proc.wait()
