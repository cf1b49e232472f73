"""Storage events end to end through the real `supervisor` command, against real servers on loopback.

This is how OSCAR runs an asynchronous invocation: MinIO notifies OSCAR of an
upload, OSCAR starts a Job running `supervisor` with the notification in
`EVENT`, and the supervisor downloads the object, runs the script and uploads
what it wrote.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote_plus

import pytest
import yaml

from faassupervisor.errors import ExitStatus
from tests.storage_servers import (  # noqa: F401 - fixtures
    ACCESS_KEY,
    ONEDATA_SPACE,
    ONEDATA_TOKEN,
    SECRET_KEY,
    WEBDAV_LOGIN,
    WEBDAV_PASSWORD,
    fault_proxy,
    onedata_server,
    s3_server,
    webdav_server,
)

# Copies the input to two outputs and describes what it was given in a third.
SCRIPT = r"""#!/bin/sh
set -e
name=$(basename "$INPUT_FILE_PATH")
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result-$name"
mkdir -p "$TMP_OUTPUT_DIR/nested"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/nested/result-copy.bin"
{
  echo "key=$STORAGE_OBJECT_KEY"
  echo "time=$EVENT_TIME"
  echo "input=$name"
  printf '%s' "$EVENT" > "$TMP_OUTPUT_DIR/event.json"
} > "$TMP_OUTPUT_DIR/summary.log"
echo "neither filter selects me" > "$TMP_OUTPUT_DIR/scratch.tmp"
"""


def _record(source: str, bucket: str, key: str) -> dict:
    return {
        "eventVersion": "2.0",
        "eventSource": source,
        "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"), "size": 1}},
    }


def _event(source: str, bucket: str, key: str) -> str:
    document = {"Records": [_record(source, bucket, key)]}
    if source == "minio:s3":
        document = {"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}", **document}
    return json.dumps(document)


def _configure(sandbox, config: dict, script: str = SCRIPT) -> None:
    sandbox.write_script(script)
    sandbox.write_config(yaml.safe_dump({"name": "storage-e2e", "log_level": "INFO", **config}))


def _s3_section(url: str) -> dict:
    return {"endpoint": url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}


def _mount_minio_secrets(sandbox) -> None:
    folder = sandbox.root / "secrets" / "minio.default"
    folder.mkdir(parents=True)
    (folder / "accessKey").write_text(ACCESS_KEY)
    (folder / "secretKey").write_text(SECRET_KEY + "\n")


def test_minio_event_in_EVENT_downloads_runs_and_uploads_through_two_filtered_outputs(sandbox, s3_server):
    inbox, results, logs = s3_server.bucket("inbox"), s3_server.bucket("results"), s3_server.bucket("logs")
    key = "uploads/fötö 1+2 ünï.jpg"
    data = b"\xff\xd8 not really a jpeg " * 100
    s3_server.client.put_object(Bucket=inbox, Key=key, Body=data)
    _mount_minio_secrets(sandbox)  # minio.default's credentials come only from the mounted secret files
    _configure(
        sandbox,
        {
            "input": [{"storage_provider": "minio.default", "path": f"{inbox}/uploads"}],
            "output": [
                {"storage_provider": "minio.default", "path": f"{results}/out", "prefix": ["result-"]},
                {"storage_provider": "s3.logs", "path": logs, "suffix": [".log", ".json"]},
            ],
            "storage_providers": {
                "minio": {"default": {"endpoint": s3_server.url}},
                "s3": {"logs": _s3_section(s3_server.url)},
            },
        },
    )
    event = _event("minio:s3", inbox, key)

    run = sandbox.supervisor(b"", env={"EVENT": event})  # empty stdin: the Job's way

    assert run.returncode == 0, run.stderr
    # The prefix looks at the path relative to $TMP_OUTPUT_DIR: nested/result-copy.bin is not selected.
    assert s3_server.keys(results) == ["out/result-fötö 1+2 ünï.jpg"]
    assert s3_server.read(results, "out/result-fötö 1+2 ünï.jpg") == data
    assert s3_server.keys(logs) == ["event.json", "summary.log"]
    assert s3_server.read(logs, "summary.log").decode() == (
        f"key={key}\ntime=2026-11-23T10:00:00.000Z\ninput=fötö 1+2 ünï.jpg\n"
    )
    assert json.loads(s3_server.read(logs, "event.json")) == json.loads(event)
    assert f"downloading {inbox}/{key} from minio.default" in run.stderr
    assert "uploaded 3 file(s)" in run.stderr
    assert sandbox.leftovers() == []


def test_s3_event_on_stdin(sandbox, s3_server):
    inbox, outbox = s3_server.bucket("s3-in"), s3_server.bucket("s3-out")
    s3_server.client.put_object(Bucket=inbox, Key="data/table.csv", Body=b"a,b\n1,2\n")
    _configure(
        sandbox,
        {
            "input": [{"storage_provider": "s3.default", "path": f"{inbox}/data"}],
            "output": [{"storage_provider": "s3.default", "path": f"{outbox}/done", "suffix": [".csv"]}],
            "storage_providers": {"s3": {"default": _s3_section(s3_server.url)}},
        },
    )
    run = sandbox.supervisor(_event("aws:s3", inbox, "data/table.csv").encode())
    assert run.returncode == 0, run.stderr
    assert s3_server.keys(outbox) == ["done/result-table.csv"]
    assert s3_server.read(outbox, "done/result-table.csv") == b"a,b\n1,2\n"


def test_delegated_event_fetches_from_the_named_provider(sandbox, s3_server, webdav_server, onedata_server):
    """A delegated event names its provider: here a WebDAV server, with outputs to Onedata and WebDAV."""
    folder = f"shared-{uuid.uuid4().hex[:8]}"
    (webdav_server.root / folder / "in").mkdir(parents=True)
    (webdav_server.root / folder / "in" / "sample ä.txt").write_bytes(b"from dcache\n")
    _configure(
        sandbox,
        {
            "output": [
                {"storage_provider": "onedata.space", "path": f"{folder}/processed", "prefix": ["result-"]},
                {"storage_provider": "webdav.dcache", "path": f"{folder}/logs", "suffix": [".log"]},
            ],
            "storage_providers": {
                "webdav": {
                    "dcache": {"hostname": webdav_server.url, "login": WEBDAV_LOGIN, "password": WEBDAV_PASSWORD}
                },
                "onedata": {
                    "space": {"oneprovider_host": onedata_server.url, "token": ONEDATA_TOKEN, "space": ONEDATA_SPACE}
                },
            },
        },
    )
    inner = {"Records": [_record("minio:s3", folder, "in/sample ä.txt")]}
    body = json.dumps({"event": inner, "storage_provider": "webdav.dcache"}).encode()

    run = sandbox.supervisor(body)

    assert run.returncode == 0, run.stderr
    processed = onedata_server.root / folder / "processed"
    assert (processed / "result-sample ä.txt").read_bytes() == b"from dcache\n"
    assert sorted(p.name for p in processed.iterdir()) == ["result-sample ä.txt"]  # not nested/result-copy.bin
    summary = (webdav_server.root / folder / "logs" / "summary.log").read_text()
    assert summary.startswith("key=in/sample ä.txt\n")


def test_file_stage_in_skips_the_download(sandbox, s3_server):
    _configure(
        sandbox,
        {
            "file_stage_in": True,
            "input": [{"storage_provider": "minio.default", "path": "never-read"}],
            "storage_providers": {"minio": {"default": _s3_section("http://127.0.0.1:9")}},  # nothing listens
        },
        script='#!/bin/sh\necho "key=$STORAGE_OBJECT_KEY"; test -e "$INPUT_FILE_PATH" && echo present || echo absent\n',
    )
    run = sandbox.supervisor(b"", env={"EVENT": _event("minio:s3", "never-read", "a/b.txt"), "LOG_LEVEL": "CRITICAL"})
    assert run.returncode == 0, run.stderr
    assert run.text == "key=a/b.txt\nabsent\n"


def test_dot_dot_key_is_written_inside_the_input_dir(sandbox, s3_server):
    inbox = s3_server.bucket("dotdot")
    s3_server.client.put_object(Bucket=inbox, Key="../../../etc/passwd", Body=b"harmless\n")
    _configure(
        sandbox,
        {
            "log_level": "CRITICAL",
            "input": [{"storage_provider": "s3.default", "path": inbox}],
            "storage_providers": {"s3": {"default": _s3_section(s3_server.url)}},
        },
        script='#!/bin/sh\necho "$INPUT_FILE_PATH"; cat "$INPUT_FILE_PATH"; ls "$TMP_INPUT_DIR"\n',
    )
    run = sandbox.supervisor(_event("aws:s3", inbox, "../../../etc/passwd").encode())
    assert run.returncode == 0, run.stderr
    path, content, listing = run.text.splitlines()
    # Inside this invocation's input dir (with the extension its MIME type gives it).
    assert path.startswith(str(sandbox.tmp)) and path.rsplit("/", 2)[1:] == ["input", listing]
    assert listing in ("passwd", "passwd.txt") and content == "harmless"


def test_an_event_for_an_unconfigured_bucket_is_bad_input(sandbox, s3_server):
    _configure(
        sandbox,
        {
            "input": [{"storage_provider": "minio.default", "path": "configured"}],
            "storage_providers": {"minio": {"default": _s3_section(s3_server.url)}},
        },
    )
    run = sandbox.supervisor(b"", env={"EVENT": _event("minio:s3", "elsewhere", "x.txt")})
    assert run.returncode == ExitStatus.BAD_INPUT
    assert "elsewhere/x.txt" in run.stderr and "input is configured for that bucket" in run.stderr
    assert sandbox.leftovers() == []


def test_a_missing_object_is_a_storage_failure_naming_provider_bucket_and_key(sandbox, s3_server):
    inbox = s3_server.bucket("missing")
    _configure(
        sandbox,
        {
            "input": [{"storage_provider": "minio.default", "path": inbox}],
            "storage_providers": {"minio": {"default": _s3_section(s3_server.url)}},
        },
    )
    run = sandbox.supervisor(b"", env={"EVENT": _event("minio:s3", inbox, "gone.png")})
    assert run.returncode == ExitStatus.STORAGE_FAILED
    assert f"minio.default: cannot download {inbox}/gone.png: object not found" in run.stderr
    assert "Traceback" not in run.stderr
    assert sandbox.leftovers() == []


def test_an_unreachable_input_provider_is_a_storage_failure_after_retries(sandbox):
    from tests.storage_servers import free_port

    port = free_port()
    _configure(
        sandbox,
        {
            "input": [{"storage_provider": "minio.default", "path": "inbox"}],
            "storage_providers": {"minio": {"default": {**_s3_section(f"http://127.0.0.1:{port}"), "region": "us-east-1"}}},
        },
    )
    run = sandbox.supervisor(b"", env={"EVENT": _event("minio:s3", "inbox", "photo.jpg")})
    assert run.returncode == ExitStatus.STORAGE_FAILED
    last = run.stderr.strip().splitlines()[-1]
    assert f"minio.default: cannot stat inbox/photo.jpg: 127.0.0.1:{port} unreachable" in last
    assert "gave up after 5 attempts" in last
    assert run.stderr.count("retry ") == 4
    assert sandbox.leftovers() == []


def test_throttled_and_reset_requests_are_retried_to_success(sandbox, s3_server, fault_proxy):
    outbox = s3_server.bucket("retried")
    _configure(
        sandbox,
        {
            "output": [{"storage_provider": "minio.default", "path": outbox}],
            "storage_providers": {"minio": {"default": {**_s3_section(fault_proxy.url), "region": "us-east-1"}}},
        },
        script='#!/bin/sh\nfor i in 1 2 3 4 5 6; do echo "file $i" > "$TMP_OUTPUT_DIR/f$i.txt"; done\n',
    )
    fault_proxy.fail_first(4)
    run = sandbox.supervisor(b'{"go": true}')
    assert run.returncode == 0, run.stderr
    assert fault_proxy.failed == 4
    assert s3_server.keys(outbox) == [f"f{i}.txt" for i in range(1, 7)]
    assert "retry 1 of 4" in run.stderr


@pytest.mark.parametrize("failing", [r"/bad-", r"."])
def test_uploads_that_keep_failing_exit_3_and_list_every_missing_file(sandbox, s3_server, fault_proxy, failing):
    outbox = s3_server.bucket("failing")
    _configure(
        sandbox,
        {
            "output": [{"storage_provider": "minio.default", "path": f"{outbox}/run"}],
            "storage_providers": {"minio": {"default": {**_s3_section(fault_proxy.url), "region": "us-east-1"}}},
        },
        script='#!/bin/sh\ncd "$TMP_OUTPUT_DIR"; echo 1 > good-1.txt; echo 2 > good-2.txt; echo 3 > bad-1.txt; '
        "mkdir d; echo 4 > d/bad-2.txt\n",
    )
    fault_proxy.mode = "slowdown"
    fault_proxy.fail_matching(failing, methods={"PUT"})

    run = sandbox.supervisor(b'{"go": true}')

    assert run.returncode == ExitStatus.STORAGE_FAILED
    missing = ["bad-1.txt", "d/bad-2.txt"] + (["good-1.txt", "good-2.txt"] if failing == "." else [])
    error = [line for line in run.stderr.splitlines() if "uploads did not arrive" in line]
    assert len(error) == 1 and f"{len(missing)} of 4 uploads did not arrive" in error[0]
    for name in missing:
        assert f"minio.default: cannot upload {outbox}/run/{name}: SlowDown" in error[0]
    # Nothing is reported as uploaded that is not there.
    reported = sorted(line.split(" uploaded ")[1].split()[0] for line in run.stderr.splitlines() if " uploaded " in line
                      and " to minio.default " in line)
    assert reported == sorted({"good-1.txt", "good-2.txt"} - set(missing))
    assert s3_server.keys(outbox) == [f"run/{name}" for name in reported]
    assert sandbox.leftovers() == []
