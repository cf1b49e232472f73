"""Exec mode: any other `fprocess` runs per request with the classic watchdog's semantics."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import threading

import pytest

from tests.watchdog_server import alive, watchdog  # noqa: F401  (fixture)


def sh(script: str) -> str:
    """An `fprocess` running `script` with /bin/sh (classic splits fprocess on spaces; we use shlex)."""
    return "sh -c " + json.dumps(script)


def test_cat_echoes_the_body_and_the_callers_content_type(watchdog):
    server = watchdog(fprocess="cat")
    answer = server.post("/", b'{"message": "hi"}', headers={"Content-Type": "application/json"})
    assert answer.status == 200
    assert answer.body == b'{"message": "hi"}'
    assert answer.headers["content-type"] == "application/json"


def test_large_chunked_body_streams_through_both_ways(watchdog):
    server = watchdog(fprocess="cat")
    payload = os.urandom(256 * 1024)
    answer = server.post("/", (payload for _ in range(24)))  # 6 MiB, chunked, response streamed back
    assert answer.status == 200
    assert answer.body == payload * 24


def test_cgi_variables_and_a_private_tmpdir_per_request(watchdog, sandbox):
    server = watchdog(fprocess=sh('env; mkdir "$TMPDIR/dir"; touch "$TMPDIR/dir/file" "$TMPDIR/file"'))
    answer = server.post("/some/path?a=1&b=two", b"x", headers={"X-Custom-Header": "yes", "Content-Type": "text/plain"})
    variables = dict(line.split("=", 1) for line in answer.text.splitlines() if "=" in line)
    assert variables["Http_Method"] == "POST"
    assert variables["Http_Path"] == "/some/path"
    assert variables["Http_Query"] == "a=1&b=two"
    assert variables["Http_X_Custom_Header"] == "yes"
    assert variables["Http_Content_Type"] == "text/plain"
    assert "Http_Host" not in variables
    tmpdir = variables["TMPDIR"]
    assert os.path.dirname(tmpdir) == str(sandbox.tmp)
    assert os.stat(tmpdir).st_mode & 0o777 == 0o700
    assert os.listdir(tmpdir) == []  # emptied after the request (and reused by the next one)


def test_cgi_headers_false_passes_no_request_variables(watchdog):
    server = watchdog(fprocess="env", cgi_headers="false")
    answer = server.post("/p", b"x", headers={"X-Custom-Header": "yes"})
    assert answer.status == 200
    assert "Http_" not in answer.text


@pytest.mark.parametrize("combine, expected", [("true", b"out\nerr\n"), ("false", b"out\n")])
def test_combine_output(watchdog, combine, expected):
    server = watchdog(fprocess=sh("echo out; sleep 0.1; echo err >&2"), combine_output=combine)
    assert server.post("/", b"").body == expected
    if combine == "false":
        assert "err" in server.log()


def test_non_zero_exit_is_500_with_the_output_even_for_exit_2(watchdog):
    # Only the supervisor's own exit statuses mean bad input / storage; a plain program's 2 is a failure.
    server = watchdog(fprocess=sh("echo broken; exit 2"))
    answer = server.post("/", b"")
    assert (answer.status, answer.body) == (500, b"broken\n")


def test_content_type_forces_the_response_type(watchdog):
    server = watchdog(fprocess="cat", content_type="application/x-special")
    answer = server.post("/", b"abc", headers={"Content-Type": "text/plain"})
    assert answer.headers["content-type"] == "application/x-special"


def test_marshal_request_sends_classics_json_document(watchdog):
    server = watchdog(fprocess="cat", marshal_request="true")
    answer = server.post("/", b"\x00binary", headers={"X-Thing": "1"})
    document = json.loads(answer.body)
    assert base64.b64decode(document["body"]["raw"]) == b"\x00binary"
    assert document["header"]["X-Thing"] == ["1"]


def test_exec_timeout_kills_the_whole_tree(watchdog, sandbox):
    pidfile = sandbox.root / "grandchild.pid"
    server = watchdog(fprocess=sh(f"sleep 300 & echo $! > {pidfile}; wait"), exec_timeout="1s")
    answer = server.post("/", b"")
    assert answer.status == 408
    assert "exec_timeout" in answer.text
    grandchild = int(pidfile.read_text())
    server.wait_for(lambda: not alive(grandchild), timeout=10, what="the background grandchild to die")


def test_max_inflight_answers_429_at_once(watchdog):
    server = watchdog(fprocess=sh("sleep 2; echo slow"), max_inflight="1")
    results = []
    slow = threading.Thread(target=lambda: results.append(server.post("/", b"")))
    slow.start()
    server.wait_for(lambda: server.metric("http_requests_in_flight") == 1, what="one request in flight")
    refused = server.post("/", b"")
    assert refused.status == 429
    assert "max_inflight" in refused.text
    slow.join()
    assert results[0].status == 200
    assert server.metric("http_requests_total", code="429", method="post") == 1


def test_body_over_max_body_size_is_413(watchdog):
    server = watchdog(fprocess="cat", max_body_size="1000")
    assert server.post("/", b"x" * 1000).status == 200
    assert server.post("/", b"x" * 5000).status == 413
    chunked = server.post("/", (b"x" * 500 for _ in range(10)))
    assert chunked.status == 413
    assert "max_body_size" in chunked.text


def test_read_timeout_gives_408(watchdog):
    server = watchdog(fprocess="cat", read_timeout="1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
        reply = b""
        while True:  # the connection is closed after the answer: the rest of the body is never read
            data = conn.recv(4096)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 408")
    assert b"read_timeout" in reply


def test_unknown_fprocess_fails_at_start(sandbox):
    import subprocess

    from tests.watchdog_server import FWATCHDOG

    env = dict(sandbox.env, fprocess="no-such-command-here")
    result = subprocess.run([FWATCHDOG], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "fprocess" in result.stderr


def test_health_lock_file_and_metrics(watchdog, sandbox):
    server = watchdog(fprocess="cat")
    assert (sandbox.tmp / ".lock").is_file()
    assert server.get("/_/health").status == 200
    for _ in range(3):
        server.post("/anything", b"x")
    server.request("PUT", "/", b"y")
    assert server.metric("http_requests_total", code="200", method="post") == 3
    assert server.metric("http_requests_total", code="200", method="put") == 1
    assert server.metric("http_request_duration_seconds_count", code="200", method="post") == 3
    assert server.metric("http_requests_in_flight") == 0
    # the operational endpoints are not invocations
    assert server.post("/metrics", b"").status == 405


def test_worker_heartbeat_file_is_in_shared_memory_not_on_disk(watchdog, sandbox):
    # gunicorn touches it at every turn of a worker's loop; on a disk each touch is an inode write
    server = watchdog(fprocess="cat")
    (worker,) = server.workers()
    targets = [os.readlink(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")]
    heartbeat = [t for t in targets if "/wgunicorn-" in t]
    assert len(heartbeat) == 1 and heartbeat[0].startswith("/dev/shm/wgunicorn-"), targets


def test_lock_file_removed_makes_health_503(watchdog, sandbox):
    server = watchdog(fprocess="cat")
    (sandbox.tmp / ".lock").unlink()
    assert server.get("/_/health").status == 503


def test_suppress_lock(watchdog, sandbox):
    server = watchdog(fprocess="cat", suppress_lock="true")
    assert not (sandbox.tmp / ".lock").exists()
    assert server.get("/_/health").status == 200


@pytest.mark.parametrize("target", ["arbiter", "process group"])
def test_sigterm_drains_in_flight_requests(watchdog, sandbox, target):
    started = sandbox.root / "started"
    started.mkdir()
    server = watchdog(fprocess=sh(f"touch {started}/$$; sleep 1.5; echo done"), healthcheck_interval="1s",
                      write_timeout="20s")
    results = []
    threads = [threading.Thread(target=lambda: results.append(server.post("/", b""))) for _ in range(3)]
    for thread in threads:
        thread.start()
    server.wait_for(lambda: server.metric("http_requests_in_flight") == 3, what="three requests in flight")
    # Each process runs in a session of its own once it runs at all; before that (forked, not yet
    # exec'd) a signal to the watchdog's process group would reach it too.
    server.wait_for(lambda: len(list(started.iterdir())) == 3, what="three processes started")
    if target == "arbiter":
        server.process.send_signal(signal.SIGTERM)  # what the kubelet and `docker stop` do
    else:
        os.killpg(server.pid, signal.SIGTERM)  # what `timeout` and some init systems do
    server.wait_for(lambda: server.get("/_/health").status == 503, what="health to turn 503")
    refused = server.post("/", b"")
    assert refused.status == 503
    assert not (sandbox.tmp / ".lock").exists()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == [200, 200, 200]
    assert all(r.body == b"done\n" for r in results)
    assert server.process.wait(30) == 0
    assert "drained" in server.log()
    with pytest.raises(OSError):
        server.get("/_/health", timeout=2)


def test_sigterm_kills_what_is_still_running_after_write_timeout(watchdog, sandbox):
    pidfile = sandbox.root / "stuck.pid"
    server = watchdog(fprocess=sh(f"echo $$ > {pidfile}; sleep 300"), write_timeout="1s")
    thread = threading.Thread(target=lambda: server.post("/", b"", timeout=60), daemon=True)
    thread.start()
    server.wait_for(pidfile.exists, what="the process to start")
    server.process.send_signal(15)
    assert server.process.wait(30) == 0
    assert not alive(int(pidfile.read_text()))
