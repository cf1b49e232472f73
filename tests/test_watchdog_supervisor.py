"""Fork-server mode: the real supervisor, forked per request, through HTTP on loopback.

Covers SPEC section 7's rows that reach HTTP (through the supervisor's own
bad-input corpus), OSCAR's /run and /job with oscar-python and a token, the
process-tree kill on exec_timeout, and the response staying clean of logs.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import yaml

from tests.watchdog_server import alive, watchdog  # noqa: F401  (fixture)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BAD_INPUT = Path(__file__).resolve().parent / "bad_input" / "cases.yaml"
HTTP_STATUS = {0: 200, 1: 500, 2: 400, 3: 500}
COPY = '#!/bin/sh\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.bin"\n'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAMklEQVR4nG3C0RQAIAAEwUMIIYQQQgihjwUIc7ESuHmTYD+wzsQ6C+tsrHOw"
    "zsU6D+sPlahZAWvtnNcAAAAASUVORK5CYII="
)


def test_cowsay_json_body_and_no_log_lines_in_the_response(watchdog, sandbox):
    sandbox.write_script((EXAMPLES / "cowsay" / "script.sh").read_text())
    sandbox.write_config("name: cowsay\nlog_level: DEBUG\n")  # logs in the response were the original's bug
    server = watchdog()
    answer = server.post("/", b'{"message": "Hello World"}', headers={"Content-Type": "application/json"})
    assert answer.status == 200, answer.text
    assert "< Hello World >" in answer.text
    assert "supervisor" not in answer.text and "DEBUG" not in answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert "running" in server.log()  # ... they went to the container log instead


def test_oscar_python_round_trips_a_binary_file_with_a_token(watchdog, sandbox, tmp_path):
    from oscar_python.client_anon import AnonymousClient

    sandbox.write_script(COPY)
    sandbox.write_config("name: copy\nlog_level: DEBUG\n")
    server = watchdog(OSCAR_SERVICE_TOKEN="tok-123", OSCAR_SERVICE_NAME="copy")
    source = tmp_path / "input.bin"
    source.write_bytes(os.urandom(200_000) + PNG)
    out = tmp_path / "output.bin"
    client = AnonymousClient({"cluster_id": "local", "endpoint": server.url(""), "ssl": False})
    response = client.run_service("copy", token="tok-123", input=str(source), output=str(out))
    assert response.status_code == 200
    assert out.read_bytes() == source.read_bytes()


def test_accept_octet_stream_gets_the_raw_file_with_its_type(watchdog, sandbox):
    sandbox.write_script('#!/bin/sh\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.png"\n')
    server = watchdog()
    answer = server.post("/", base64.b64encode(PNG), headers={"Accept": "application/octet-stream"})
    assert answer.status == 200
    assert answer.body == PNG
    assert answer.headers["content-type"] == "image/png"


def test_curl_form_multipart(watchdog, sandbox):
    sandbox.write_script('#!/bin/sh\necho "name=$(basename "$INPUT_FILE_PATH")"\ncat "$INPUT_FILE_PATH"\n')
    sandbox.write_config("name: form\nlog_level: CRITICAL\n")
    server = watchdog()
    boundary = "------------------------d74496d66958873e"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"people.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\nhello form\n\r\n--{boundary}--\r\n"
    ).encode()
    answer = server.post("/run/form", body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status == 200, answer.text
    assert "hello form" in answer.text


def test_bad_inputs_get_their_status_and_one_line(watchdog, sandbox):
    """Every case of the supervisor's bad-input corpus, through one server (the config is re-read per request)."""
    server = watchdog()
    sandbox.write_script("#!/bin/sh\necho ran\n")
    for case in yaml.safe_load(BAD_INPUT.read_text()):
        config = sandbox.config / "function_config.yaml"
        config.write_text(f"name: bad\nlog_level: CRITICAL\n{case.get('config', '')}\n")
        for key, text in (case.get("storage") or {}).items():
            path = sandbox.storage / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        body = base64.b64decode(case["body_base64"]) if "body_base64" in case else case["body"].encode()
        answer = server.post("/", body)
        expected = HTTP_STATUS[case["exit"]]
        assert answer.status == expected, (case["name"], answer.status, answer.text)
        assert case["message"] in answer.text, (case["name"], answer.text)
        assert answer.text.count("\n") == 1, (case["name"], answer.text)
        assert "ran" not in answer.text
        assert server.get("/_/health").status == 200
    assert server.metric("http_requests_total", code="400", method="post") > 0


def test_script_failure_is_500_with_its_output(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\necho 'it went wrong'\nexit 4\n")
    server = watchdog()
    answer = server.post("/", b"{}")
    assert answer.status == 500
    assert "it went wrong" in answer.text


def test_exec_timeout_kills_the_tree_and_removes_the_temp_dirs(watchdog, sandbox):
    pidfile = sandbox.root / "grandchild.pid"
    sandbox.write_script(f"#!/bin/sh\n(setsid sleep 300 & echo $! > {pidfile}; wait) &\nsleep 300\n")
    server = watchdog(exec_timeout="1s")
    answer = server.post("/", b"{}")
    assert answer.status == 408
    assert "exec_timeout" in answer.text
    server.wait_for(pidfile.exists, what="the grandchild's pid")
    grandchild = int(pidfile.read_text())
    server.wait_for(lambda: not alive(grandchild), timeout=10, what="the grandchild to die")
    server.wait_for(lambda: sandbox.left_by_invocations() == [], what="the temp dirs to be emptied")
    assert server.post("/", b"{}", timeout=30).status == 408  # and the server keeps working


def test_the_script_gets_the_watchdogs_environment_and_the_requests_variables(watchdog, sandbox):
    # The fork server holds the watchdog's environment; a request sends only its own variables
    # (headers, its private TMPDIR), which win over the watchdog's.
    sandbox.write_script('#!/bin/sh\necho "$POD_VARIABLE|$Http_X_Trace|$Http_Method|${TMPDIR#$SANDBOX_TMP/}"\n')
    server = watchdog(POD_VARIABLE="from the pod", SANDBOX_TMP=str(sandbox.tmp), Http_X_Trace="the pod's")
    for trace in ("first", "second"):
        answer = server.post("/", b'{"n": 1}', headers={"X-Trace": trace})
        assert answer.status == 200, answer.text
        pod, header, method, tmpdir = answer.text.strip().split("|")
        assert (pod, header, method) == ("from the pod", trace, "POST")
        assert tmpdir.startswith("fwatchdog-") and "/" not in tmpdir  # its own, under the watchdog's TMPDIR


def test_a_recycled_work_dir_reaches_the_next_invocation_clean(watchdog, sandbox):
    # The fork server's children work in the watchdog's private TMPDIR, which is cleared and
    # lent again; their input/ and output/ stay there between invocations. Whatever a script
    # does to them (files left, its input dir swapped for a link, output opened to others),
    # the next invocation finds only its own input, private dirs, and nothing of the link's target.
    outside = sandbox.root / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("not the script's to delete")
    sandbox.write_script(
        "#!/bin/sh\n"
        'echo "$TMPDIR|$(ls -A "$TMPDIR" | tr "\\n" " ")|$(ls -A "$TMP_INPUT_DIR")|$(ls -A "$TMP_OUTPUT_DIR")'
        '|$(stat -c %a "$TMP_INPUT_DIR" "$TMP_OUTPUT_DIR" | tr "\\n" " ")"\n'
        'touch "$TMPDIR/junk" && mkdir "$TMP_OUTPUT_DIR/empty" && chmod 755 "$TMP_OUTPUT_DIR"\n'
        f'rm -r "$TMP_INPUT_DIR" && ln -s {outside} "$TMP_INPUT_DIR"\n'
    )
    server = watchdog()
    seen = []
    for _ in range(4):
        answer = server.post("/", b'{"n": 1}')
        assert answer.status == 200, answer.text
        tmpdir, listing, inputs, outputs, modes = answer.text.strip().split("|")
        assert (listing, inputs, outputs, modes) == (".script-output input output ", "event_file.json", "", "700 700")
        seen.append(tmpdir)
        server.wait_for(lambda: sandbox.left_by_invocations() == [], what="the work dir to be cleared")
    assert len(set(seen)) < len(seen), f"no work dir was lent twice: {seen}"
    assert (outside / "precious.txt").read_text() == "not the script's to delete"


def test_sigterm_ends_a_forked_supervisor_through_its_cleanup_and_leaves_the_fork_server(watchdog, sandbox):
    # The fork server sets the handler once for all its children: in them SIGTERM unwinds the
    # invocation (script tree killed; the watchdog then clears its lent work dir); in the server
    # itself it is ignored.
    pidfile = sandbox.root / "supervisor.pid"
    sandbox.write_script(f"#!/bin/sh\necho $PPID > {pidfile}\nsleep 300\n")
    server = watchdog()
    forkserver = server.forkserver()
    os.kill(forkserver, 15)
    result = []
    request = threading.Thread(target=lambda: result.append(server.post("/", b"{}", timeout=30)))
    request.start()
    server.wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the supervisor's pid")
    os.kill(int(pidfile.read_text()), 15)
    request.join()
    assert result[0].status == 500
    assert "terminated by SIGTERM: invocation abandoned" in server.log()
    server.wait_for(lambda: sandbox.left_by_invocations() == [], what="the temp dirs to be emptied")
    sandbox.write_script("#!/bin/sh\necho still serving\n")
    assert server.post("/", b"{}").text == "still serving\n"
    assert server.forkserver() == forkserver


def test_token_is_required_on_run_and_job(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\necho ok\n")
    server = watchdog(OSCAR_SERVICE_TOKEN="right")
    for path in ("/run/svc", "/job/svc"):
        assert server.post(path, b"{}").status == 401
        wrong = server.post(path, b"{}", headers={"Authorization": "Bearer wrong"})
        assert wrong.status == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert server.post(path, b"{}", headers={"Authorization": "Basic cmlnaHQ="}).status == 401
    assert server.post("/run/svc", b"{}", headers={"Authorization": "Bearer right"}).status == 200
    assert server.get("/run/svc", headers={"Authorization": "Bearer right"}).status == 405


def test_service_name_must_match_when_set(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\necho ok\n")
    server = watchdog(OSCAR_SERVICE_NAME="mine")
    assert server.post("/run/mine", b"{}").status == 200
    assert server.post("/run/other", b"{}").status == 404


def test_job_runs_in_the_background_and_uploads_its_outputs(watchdog, sandbox):
    sandbox.write_script('#!/bin/sh\nsleep 0.5\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/out.txt"\n')
    sandbox.write_config("name: jobs\nlog_level: INFO\noutput:\n- storage_provider: local\n  path: results/done\n")
    server = watchdog()
    answer = server.post("/job/jobs", b'{"n": 1}')
    assert answer.status == 201
    result = sandbox.storage / "results" / "done" / "out.txt"
    server.wait_for(result.exists, what="the job's output in local storage")
    assert json.loads(result.read_text()) == {"n": 1}
    server.wait_for(lambda: "job 1: 200" in server.log(), what="the job's log line")


def test_job_queue_full_is_429(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\nsleep 2\n")
    server = watchdog(max_jobs="1", job_queue_size="1", write_timeout="30s")
    assert server.post("/job/s", b"{}").status == 201
    assert server.post("/job/s", b"{}").status == 201
    full = server.post("/job/s", b"{}")
    assert full.status == 429
    assert server.metric("http_requests_total", code="429", method="post") == 1
    # SIGTERM waits for accepted jobs too
    server.process.send_signal(15)
    assert server.process.wait(30) == 0
    assert server.log().count(": 200 (exit 0)") == 2


def test_sigterm_drains_forked_invocations(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\nsleep 1\necho finished\n")
    sandbox.write_config("name: s\nlog_level: CRITICAL\n")
    server = watchdog(healthcheck_interval="0.5s", write_timeout="20s")
    results = []
    threads = [threading.Thread(target=lambda: results.append(server.post("/", b"{}"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    server.wait_for(lambda: server.metric("http_requests_in_flight") == 2, what="two requests in flight")
    server.process.send_signal(15)
    server.wait_for(lambda: server.get("/_/health").status == 503, what="health to turn 503")
    assert server.post("/", b"{}").status == 503
    for thread in threads:
        thread.join()
    assert [(r.status, r.text) for r in results] == [(200, "finished\n")] * 2
    assert server.process.wait(30) == 0


def test_fork_server_is_restarted_if_it_dies(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\necho alive\n")
    server = watchdog()
    first = server.forkserver()
    os.kill(first, 9)
    server.wait_for(lambda: server.forkserver() not in (None, first), what="a new fork server")
    server.wait_for(lambda: server.post("/", b"{}").status == 200, what="invocations to work again")
    assert "restarting" in server.log()
