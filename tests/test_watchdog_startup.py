"""Cold start: what runs before a new pod's first answer, and what waits until after it.

No timing here (`make bench BENCH=coldstart` measures it): these state the order of the
start-up steps that the figures depend on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faassupervisor import workdir
from fwatchdog import forkserver
from fwatchdog.forkclient import ForkServerProcess
from tests.watchdog_server import WatchdogProcess

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_fwatchdog_spawns_the_fork_server_before_importing_gunicorn_and_flask(sandbox):
    # The fork server's imports then overlap the arbiter's, instead of following them.
    code = (
        "import sys; from fwatchdog import forkclient\n"
        "def spawn(self):\n"
        "    print(sorted(name for name in ('gunicorn', 'flask', 'prometheus_client') if name in sys.modules))\n"
        "    sys.exit(0)\n"
        "forkclient.ForkServerProcess.spawn = spawn\n"
        "from fwatchdog.__main__ import main\n"
        "main([])\n"
    )
    done = _python(code, sandbox.env)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


def test_only_one_warm_up_runs_before_the_fork_server_is_ready(sandbox, monkeypatch):
    runs = []
    monkeypatch.setattr(forkserver, "warm_up", lambda count, parent=None: runs.append(count) or True)
    workdir.remove(forkserver.preload())  # the directory the others will use
    assert runs == [forkserver.WARM_UPS_BEFORE_READY] == [1]


def test_the_warm_up_forks_no_child_to_parse_its_config(sandbox):
    # Its config is stored in the cache as already parsed: no fork, no PyYAML on the way to ready.
    code = (
        "import os, sys; from fwatchdog import forkserver\n"
        "def no_fork(): raise OSError('no fork in this test')\n"
        "os.fork = no_fork\n"
        "print(forkserver.warm_up(1), 'yaml' in sys.modules)\n"
    )
    done = _python(code, sandbox.env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "True False\n", "")


def test_the_first_health_200_means_an_invocation_is_answered(sandbox):
    # The arbiter listens only once the fork server is ready: health 200 is never a promise
    # the fork server cannot keep yet.
    sandbox.write_script("#!/bin/sh\necho hi\n")
    server = WatchdogProcess(sandbox.env, {}).start()  # returns at the first health 200
    try:
        answer = server.post("/", b'{"message": "hi"}')
        assert (answer.status, answer.text) == (200, "hi\n")
    finally:
        server.terminate()


def test_the_arbiter_imports_no_multiprocessing_for_a_single_worker(sandbox):
    # Its process-shared lock is only needed when several workers count invocations together.
    code = ("import sys; import fwatchdog.server; from fwatchdog.shared_state import SharedState; "
            "SharedState(1); print('multiprocessing' in sys.modules)")
    done = _python(code, sandbox.env)
    assert (done.returncode, done.stdout) == (0, "False\n"), done.stderr


@pytest.fixture
def fork_server(sandbox):
    """A fork server as the watchdog starts it, just ready: (the process, its warm-up directory)."""
    sandbox.write_script("#!/bin/sh\ntrue\n")
    server = ForkServerProcess(sandbox.env)
    server.start()
    # the other warm-ups are left to run, in a directory of their own in TMPDIR
    found = [name for name in os.listdir(sandbox.tmp) if name.startswith(forkserver.WARM_UP_PREFIX)]
    assert len(found) == 1
    warm_dir = str(sandbox.tmp / found[0])
    yield server, warm_dir
    server.stop()
    assert not os.path.exists(warm_dir)


def test_the_other_warm_ups_run_after_ready_then_their_directory_goes(fork_server):
    _server, warm_dir = fork_server
    deadline = time.monotonic() + 60
    while os.path.exists(warm_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(warm_dir)


def test_a_fork_server_killed_during_its_warm_ups_leaves_nothing(fork_server):
    # They run in a directory the watchdog knows, and removes if the server dies before it could.
    server, warm_dir = fork_server
    server.process.kill()
    server.process.wait()
    server.ensure_running()  # a new one
    assert not os.path.exists(warm_dir)
