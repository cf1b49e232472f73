"""A few hundred invocations leave nothing behind: no temp dirs, no descriptors, no zombies."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.watchdog_server import children, open_fds, watchdog, zombies  # noqa: F401  (fixture)
from fwatchdog.forkserver import SPARES

REQUESTS = 300
SCRIPT = """#!/bin/sh
case "$(cat "$INPUT_FILE_PATH")" in
  *fail*) echo failing; exit 1;;
  *slow*) sleep 5;;
  *bg*) sleep 30 & echo started;;
  *) echo ok;;
esac
"""
# (body, expected status) in a mix: success, script failure, bad input, timeout, a background job left running
MIX = [(b'{"x": "ok"}', 200), (b'{"x": "fail"}', 500), (b"not json, not base64", 400), (b'{"x": "bg"}', 200)]


def _kinds(pid):
    """How many descriptors of each kind (`socket`, `pipe`, a path) a process holds."""
    return Counter(target.split(":[")[0] for target in open_fds(pid))


def _idle(server) -> bool:
    """Nothing going on: no client connection left open in a worker (only its listening socket),
    the fork server's only children are its spares, nobody is a zombie."""
    forkserver = server.forkserver()
    return (
        all(_kinds(worker)["socket"] == 1 for worker in server.workers())
        and (forkserver is None or len(children(forkserver)) <= SPARES)
        and not zombies(server.tree())
    )


def _settled(server, pids, baseline):
    return _idle(server) and all(_kinds(pid) == baseline[pid] for pid in pids)


@pytest.mark.parametrize("mode", ["fork server", "exec"])
def test_hundreds_of_invocations_leave_nothing_behind(watchdog, sandbox, mode):
    sandbox.write_script(SCRIPT)
    sandbox.write_config("name: leaks\nlog_level: CRITICAL\n")
    variables = {"exec_timeout": "1s"}
    if mode == "exec":
        variables["fprocess"] = f"sh {sandbox.config / 'script.sh'}"
        variables["TEST_INPUT"] = "unused"
    server = watchdog(**variables)
    if mode == "exec":
        # exec mode has no INPUT_FILE_PATH: let the script read its stdin instead
        (sandbox.config / "script.sh").write_text(SCRIPT.replace('"$INPUT_FILE_PATH"', "-"))

    def call(i):
        body, status = MIX[i % len(MIX)]
        if mode == "exec" and status == 400:
            status = 200  # a plain program does not reject bodies
        return server.post("/", body).status, status

    with ThreadPoolExecutor(4) as pool:
        for got, expected in pool.map(call, range(20)):
            assert got == expected
    pids = [pid for pid in (server.workers() + [server.forkserver()]) if pid]
    server.wait_for(lambda: _idle(server), what="the warm-up requests to be over")
    baseline = {pid: _kinds(pid) for pid in pids}

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(REQUESTS)))
    assert [got for got, _ in results] == [expected for _, expected in results]
    assert server.post("/", b'{"x": "slow"}').status == 408

    server.wait_for(lambda: _settled(server, pids, baseline), what=lambda: (
        f"descriptors back to baseline {baseline}, no zombies: now {({pid: _kinds(pid) for pid in pids})}, "
        f"zombies {zombies(server.tree())}, fork server children {children(server.forkserver() or -1)}"))
    # only the emptied private TMPDIRs kept for reuse (removed at exit: the fixture checks)
    assert sandbox.left_by_invocations() == []
    assert server.metric("http_requests_in_flight") == 0
