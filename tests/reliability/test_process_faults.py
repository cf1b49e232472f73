"""Issue items 1-3: every way an invocation ends leaves none of its script's processes alive.

Each script starts a background process in a session of its own (`setsid`) and marks it with a
unique word in its command line, so the test can look for survivors anywhere in /proc, whoever
adopted them."""

from __future__ import annotations

import os
import signal
import threading
import uuid

from faassupervisor import process_tree
from tests.watchdog_server import alive

SCRIPT = """#!/bin/sh
setsid sleep 999{mark} &
sleep 999{mark} &
exec sleep 999{mark}
"""


def _marked(mark: str):
    """Living processes whose command line carries `mark`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if mark.encode() in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def _mark() -> str:
    return "." + str(uuid.uuid4().int)[:9]  # `sleep 999.123456789`: a valid duration, unique to this test


def _post_in_background(server, results, body=b'{"x": 1}'):
    def post():
        try:
            results.append(server.post("/", body, timeout=60))
        except OSError as err:  # the connection cut (its worker killed): what some tests expect
            results.append(err)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _wait_for_scripts(server, mark, count=3):
    server.wait_for(lambda: len(_marked(mark)) >= count, what=f"{count} script processes")


def test_sigterm_after_write_timeout_kills_every_script_process(watchdog, sandbox):
    """Item 1: the drain gives up after write_timeout; the scripts' trees go with it, and the
    client is told why."""
    mark = _mark()
    sandbox.write_script(SCRIPT.format(mark=mark))
    server = watchdog(write_timeout="1s", exec_timeout="0")
    results = []
    thread = _post_in_background(server, results)
    _wait_for_scripts(server, mark)
    server.process.send_signal(signal.SIGTERM)
    thread.join(30)
    assert server.process.wait(30) == 0
    server.wait_for(lambda: not _marked(mark), timeout=10, what=lambda: f"no survivors: {_marked(mark)}")
    assert results and results[0].status == 503, results
    assert "write_timeout" in results[0].text and results[0].text.count("\n") == 1


def test_worker_killed_frees_its_slots_and_its_scripts(watchdog, sandbox):
    """Item 2: kill -9 of the gunicorn worker while it holds max_inflight's only place."""
    mark = _mark()
    sandbox.write_script(SCRIPT.format(mark=mark))
    server = watchdog(max_inflight="1", exec_timeout="0", write_timeout="30s")
    results = []
    _post_in_background(server, results)
    _wait_for_scripts(server, mark)
    (worker,) = server.workers()
    os.kill(worker, signal.SIGKILL)
    server.wait_for(lambda: not _marked(mark), timeout=15, what=lambda: f"no survivors: {_marked(mark)}")
    server.wait_for(lambda: server.workers() and server.workers() != [worker], what="a new worker")
    sandbox.write_script("#!/bin/sh\necho fine\n")
    server.wait_for(lambda: server.post("/", b'{"x": 2}').status == 200, timeout=15,
                    what="the new worker to answer 200 (not 429)")
    assert server.terminate() == 0
    # the drain did not wait (30 s) for the invocations that died with their worker
    assert "drained: exiting" in server.log() and "write_timeout after SIGTERM" not in server.log()


def test_arbiter_killed_leaves_no_script_behind(watchdog, sandbox):
    """Item 3: kill -9 of the arbiter; the fork server sees its stdin close and kills everything below it."""
    mark = _mark()
    sandbox.write_script(SCRIPT.format(mark=mark))
    server = watchdog(exec_timeout="0")
    results = []
    _post_in_background(server, results)
    _wait_for_scripts(server, mark)
    tree = server.tree()
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait()
    server.wait_for(lambda: not _marked(mark) and not any(alive(pid) for pid in tree), timeout=20,
                    what=lambda: f"no survivors: {_marked(mark)} {[p for p in tree if alive(p)]}")


def test_supervisor_killed_takes_its_script_tree_along(watchdog, sandbox):
    """Item 3, the other path: the supervisor itself killed (by the OOM killer, say); what its
    script started was re-parented to the fork server, which kills it."""
    mark = _mark()
    sandbox.write_script(SCRIPT.format(mark=mark))
    server = watchdog(exec_timeout="0")
    results = []
    thread = _post_in_background(server, results)
    _wait_for_scripts(server, mark)
    forkserver = server.forkserver()
    supervisors = [pid for pid in process_tree.children(forkserver)
                   if set(_marked(mark)) & set(process_tree.descendants(pid))]
    assert len(supervisors) == 1
    os.kill(supervisors[0], signal.SIGKILL)
    thread.join(30)
    server.wait_for(lambda: not _marked(mark), timeout=15, what=lambda: f"no survivors: {_marked(mark)}")
    assert results and results[0].status == 500
