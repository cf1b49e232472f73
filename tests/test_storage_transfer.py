"""Moving outputs and inputs through real servers, with faults injected between us and them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from faassupervisor import logs
from faassupervisor.config.service import ServiceConfig
from faassupervisor.errors import BadInput, StorageFailure
from faassupervisor.events.storage import parse_storage_event
from faassupervisor.logs import LogCapture
from faassupervisor.storage import transfer
from faassupervisor.storage.provider import MULTIPART_THRESHOLD, ProviderContext
from faassupervisor.storage.registry import ProviderSet
from faassupervisor.storage.retry import RetryPolicy
from tests.storage_servers import (  # noqa: F401 - fixtures
    ACCESS_KEY,
    SECRET_KEY,
    FaultProxy,
    fault_proxy,
    free_port,
    s3_server,
)

SOURCES = {"minio": "minio:s3", "s3": "aws:s3"}
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def supervisor_log():
    """The supervisor's log lines at INFO, kept in memory (the container log goes to a buffer)."""
    yield logs.configure("INFO", stream=io.StringIO(), capture=True)
    logs.configure("INFO", capture=False)


def _service(url: str, outputs=(), inputs=(), kinds=("minio", "s3")) -> ServiceConfig:
    section = {"endpoint": url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    return ServiceConfig.from_mapping(
        {
            "input": list(inputs),
            "output": list(outputs),
            "storage_providers": {kind: {"default": dict(section)} for kind in kinds},
        }
    )


def _providers(service: ServiceConfig, tmp_path: Path) -> ProviderSet:
    providers = ProviderSet(service, ProviderContext(tmp_path / "local", tmp_path / "secrets"))
    providers.validate()
    return providers


def _outputs(tmp_path: Path, files: dict) -> Path:
    out = tmp_path / "out"
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return out


def _uploaded_lines(captured: LogCapture) -> list:
    return [m for m in captured.messages if m.startswith("uploaded ") and " to " in m]


def test_each_output_entry_gets_the_files_its_filters_select(s3_server, tmp_path):
    images, texts = s3_server.bucket("images"), s3_server.bucket("texts")
    service = _service(
        s3_server.url,
        outputs=[
            {"storage_provider": "minio.default", "path": f"{images}/results", "prefix": ["img-"]},
            {"storage_provider": "s3.default", "path": texts, "suffix": [".txt", ".csv"]},
        ],
    )
    out = _outputs(
        tmp_path,
        {
            "img-1.png": b"png1",
            "deep/img-2.png": b"png2",  # the prefix is matched against the relative path: not selected
            "img-deep/4.png": b"png4",  # ...which this one starts with: selected
            "notes.txt": b"notes",
            "img-3.txt": b"both",
            "table.csv": b"a,b",
            "other.bin": b"neither",
        },
    )
    assert transfer.upload_outputs(out, service, _providers(service, tmp_path), policy=FAST) == 6
    assert s3_server.keys(images) == ["results/img-1.png", "results/img-3.txt", "results/img-deep/4.png"]
    assert s3_server.keys(texts) == ["img-3.txt", "notes.txt", "table.csv"]
    assert s3_server.read(images, "results/img-deep/4.png") == b"png4"


def test_no_output_entries_or_no_files_uploads_nothing(s3_server, tmp_path):
    service = _service(s3_server.url, outputs=[{"storage_provider": "minio.default", "path": "unused"}])
    (tmp_path / "empty").mkdir()
    assert transfer.upload_outputs(tmp_path / "empty", service, _providers(service, tmp_path)) == 0


@pytest.mark.parametrize("kind", ["minio", "s3"])
def test_uploads_run_in_parallel_on_a_bounded_pool(kind, s3_server, tmp_path):
    proxy = FaultProxy(s3_server.url, delay=0.1)
    try:
        bucket = s3_server.bucket("parallel")
        service = _service(proxy.url, outputs=[{"storage_provider": f"{kind}.default", "path": bucket}])
        out = _outputs(tmp_path, {f"f{i:02}.dat": os.urandom(100) for i in range(12)})
        transfer.upload_outputs(out, service, _providers(service, tmp_path), policy=FAST, workers=4)
        assert len(s3_server.keys(bucket)) == 12
        assert 2 <= proxy.max_in_flight <= 4
        # Each PUT's ETag (the file's MD5) proved the upload: no HEAD was needed.
        assert [method for method, _ in proxy.seen if method not in ("PUT", "GET")] == []
    finally:
        proxy.stop()


@pytest.mark.parametrize("kind", ["minio", "s3"])
def test_large_files_go_as_multipart_uploads(kind, s3_server, tmp_path):
    bucket = s3_server.bucket("multipart")
    service = _service(s3_server.url, outputs=[{"storage_provider": f"{kind}.default", "path": bucket}])
    data = os.urandom(MULTIPART_THRESHOLD + 1024)
    out = _outputs(tmp_path, {"large.bin": data, "small.bin": b"s"})
    transfer.upload_outputs(out, service, _providers(service, tmp_path), policy=FAST)
    assert s3_server.read(bucket, "large.bin") == data
    etag = s3_server.client.head_object(Bucket=bucket, Key="large.bin")["ETag"]
    assert "-" in etag  # S3's multipart ETag: "<md5 of part md5s>-<part count>"
    assert "-" not in s3_server.client.head_object(Bucket=bucket, Key="small.bin")["ETag"]


@pytest.mark.parametrize("mode", ["reset", "slowdown", "truncate"])
@pytest.mark.parametrize("kind", ["minio", "s3"])
def test_transient_failures_are_retried_until_the_files_arrive(kind, mode, fault_proxy, s3_server, tmp_path, supervisor_log):
    bucket = s3_server.bucket("flaky")
    service = _service(fault_proxy.url, outputs=[{"storage_provider": f"{kind}.default", "path": bucket}])
    files = {f"file-{i}.bin": os.urandom(2000 + i) for i in range(4)}
    out = _outputs(tmp_path, files)
    providers = _providers(service, tmp_path)
    fault_proxy.mode = mode
    if mode == "truncate":
        fault_proxy.fail_matching("/file-[02]", methods={"PUT"})
        fault_proxy.should_fail = _first_each(fault_proxy.should_fail)  # only each file's first PUT
    else:
        fault_proxy.fail_first(3)
    transfer.upload_outputs(out, service, providers, policy=RetryPolicy(attempts=4, base_delay=0.01))
    assert fault_proxy.failed >= 2
    assert {key: s3_server.read(bucket, key) for key in s3_server.keys(bucket)} == files
    assert any("retry 1 of 3" in m for m in supervisor_log.messages)


def _first_each(predicate):
    """Wrap a should_fail predicate so that each path fails only the first time it matches."""
    seen = set()

    def once(method, path, number):
        if predicate(method, path, number) and path not in seen:
            seen.add(path)
            return True
        return False

    return once


@pytest.mark.parametrize("mode", ["slowdown", "reset", "truncate"])
def test_a_persistent_failure_lists_exactly_the_files_that_did_not_arrive(mode, fault_proxy, s3_server, tmp_path, supervisor_log):
    bucket = s3_server.bucket("partial")
    service = _service(fault_proxy.url, outputs=[{"storage_provider": "minio.default", "path": f"{bucket}/run"}])
    out = _outputs(
        tmp_path, {"good-1.txt": b"1", "good-2.txt": b"22", "bad-1.txt": b"333", "sub/bad-2.txt": b"4444"}
    )
    providers = _providers(service, tmp_path)
    fault_proxy.mode = mode
    fault_proxy.fail_matching(r"/bad-", methods={"PUT"})
    with pytest.raises(StorageFailure) as caught:
        transfer.upload_outputs(out, service, providers, policy=FAST)
    message = str(caught.value)
    assert message.startswith("2 of 4 uploads did not arrive")
    assert "bad-1.txt" in message and "sub/bad-2.txt" in message and "good" not in message
    assert f"minio.default: cannot upload {bucket}/run/bad-1.txt" in message
    assert "gave up after 3 attempts" in message
    assert "\n" not in message
    # What the logs report as uploaded is there, byte for byte, and nothing else is reported.
    reported = sorted(line.split()[1] for line in _uploaded_lines(supervisor_log))
    assert reported == ["good-1.txt", "good-2.txt"]
    assert all(s3_server.read(bucket, f"run/{name}") == (out / name).read_bytes() for name in reported)
    if mode != "truncate":  # (a server that kept a short object keeps it: it is reported as failed)
        assert s3_server.keys(bucket) == ["run/good-1.txt", "run/good-2.txt"]


def test_an_unreachable_provider_fails_every_file_and_reports_none(s3_server, tmp_path, supervisor_log):
    port = free_port()
    bucket = s3_server.bucket("down")
    service = _service(f"http://127.0.0.1:{port}", outputs=[{"storage_provider": "s3.default", "path": bucket}])
    out = _outputs(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    with pytest.raises(StorageFailure) as caught:
        transfer.upload_outputs(out, service, _providers(service, tmp_path), policy=FAST)
    assert str(caught.value).startswith("2 of 2 uploads did not arrive")
    assert f"127.0.0.1:{port} unreachable" in str(caught.value)
    assert _uploaded_lines(supervisor_log) == []


def test_a_long_transfer_logs_progress_lines(s3_server, tmp_path, supervisor_log):
    proxy = FaultProxy(s3_server.url, delay=0.2)
    try:
        bucket = s3_server.bucket("progress")
        service = _service(proxy.url, outputs=[{"storage_provider": "minio.default", "path": bucket}])
        out = _outputs(tmp_path, {f"f{i}.txt": b"x" * i for i in range(1, 3)})
        transfer.upload_outputs(
            out, service, _providers(service, tmp_path), policy=FAST, workers=1, progress_interval=0.05
        )
    finally:
        proxy.stop()
    lines = [m for m in supervisor_log.messages if m.startswith("uploading: ")]
    assert lines and "of 2 files done" in lines[-1] and "in flight: f" in lines[0]


# --- downloads -----------------------------------------------------------------------------


def _event(bucket: str, key: str, source: str = "minio:s3"):
    document = {
        "Records": [
            {"eventSource": source, "eventTime": "2024-01-01T00:00:00Z", "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}
        ]
    }
    return parse_storage_event(document, json.dumps(document).encode())


@pytest.mark.parametrize("kind, source", [("minio", "minio:s3"), ("s3", "aws:s3")])
def test_an_event_object_is_downloaded_from_the_matching_input(kind, source, s3_server, tmp_path):
    bucket = s3_server.bucket("in")
    key = "uploads/ünï cöde+plus.jpg"
    data = os.urandom(5000)
    s3_server.client.put_object(Bucket=bucket, Key=key, Body=data)
    service = _service(s3_server.url, inputs=[{"storage_provider": f"{kind}.default", "path": f"{bucket}/uploads"}])
    event = _event(bucket, "uploads/%C3%BCn%C3%AF+c%C3%B6de%2Bplus.jpg", source)  # as notifications encode it
    (tmp_path / "in").mkdir()
    dest = transfer.event_input_path(event, tmp_path / "in")
    assert dest == tmp_path / "in" / "ünï cöde+plus.jpg"
    assert transfer.fetch_event_object(event, service, _providers(service, tmp_path), dest, policy=FAST) == 5000
    assert dest.read_bytes() == data
    assert os.listdir(tmp_path / "in") == [dest.name]


def test_a_key_with_dot_dots_lands_inside_the_input_dir(s3_server, tmp_path):
    bucket = s3_server.bucket("escape")
    key = "../../etc/passwd"
    s3_server.client.put_object(Bucket=bucket, Key=key, Body=b"not the real one")  # S3 keys are opaque
    service = _service(s3_server.url, inputs=[{"storage_provider": "s3.default", "path": bucket}])
    event = _event(bucket, key, "aws:s3")
    (tmp_path / "in").mkdir()
    dest = transfer.event_input_path(event, tmp_path / "in")
    assert dest == tmp_path / "in" / "passwd"
    transfer.fetch_event_object(event, service, _providers(service, tmp_path), dest, policy=FAST)
    assert dest.read_bytes() == b"not the real one"
    assert os.listdir(tmp_path / "in") == ["passwd"]


def test_a_key_with_dot_dots_is_bad_input_for_minio(s3_server, tmp_path):
    service = _service(s3_server.url, inputs=[{"storage_provider": "minio.default", "path": "escape"}])
    with pytest.raises(BadInput, match="'..' segment"):
        transfer.fetch_event_object(
            _event("escape", "../../etc/passwd"), service, _providers(service, tmp_path), tmp_path / "passwd"
        )
    assert not (tmp_path / "passwd").exists()


def test_a_bucket_with_no_input_configured_is_bad_input(s3_server, tmp_path):
    service = _service(s3_server.url, inputs=[{"storage_provider": "minio.default", "path": "configured"}])
    with pytest.raises(BadInput, match="other-bucket/k"):
        transfer.fetch_event_object(_event("other-bucket", "k"), service, _providers(service, tmp_path), tmp_path / "d")


def test_a_missing_object_fails_at_once_naming_provider_bucket_and_key(fault_proxy, s3_server, tmp_path):
    bucket = s3_server.bucket("empty")
    service = _service(fault_proxy.url, inputs=[{"storage_provider": "minio.default", "path": bucket}])
    providers = _providers(service, tmp_path)
    with pytest.raises(StorageFailure) as caught:
        transfer.fetch_event_object(_event(bucket, "nothing.txt"), service, providers, tmp_path / "d", policy=FAST)
    assert str(caught.value) == f"minio.default: cannot download {bucket}/nothing.txt: object not found"
    assert fault_proxy.requests <= 2  # a missing object is not retried (a region lookup may precede the stat)


@pytest.mark.parametrize("mode", ["reset", "truncate", "slowdown"])
@pytest.mark.parametrize("kind", ["minio", "s3"])
def test_a_failed_download_is_retried_and_leaves_nothing_behind(kind, mode, fault_proxy, s3_server, tmp_path):
    bucket = s3_server.bucket("dl")
    s3_server.client.put_object(Bucket=bucket, Key="object.bin", Body=os.urandom(50_000))
    service = _service(fault_proxy.url, inputs=[{"storage_provider": f"{kind}.default", "path": bucket}])
    providers = _providers(service, tmp_path)
    fault_proxy.mode = mode
    fault_proxy.fail_matching("/object.bin", methods={"GET"})
    (tmp_path / "in").mkdir()
    dest = tmp_path / "in" / "object.bin"
    with pytest.raises(StorageFailure) as caught:
        transfer.fetch_event_object(_event(bucket, "object.bin", SOURCES[kind]), service, providers, dest, policy=FAST)
    assert f"{kind}.default: cannot download {bucket}/object.bin" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    assert os.listdir(tmp_path / "in") == []  # neither the object nor a partial file
    # A passing fault is ridden out.
    fault_proxy.should_fail = _first_each(lambda method, path, number: method == "GET" and "object.bin" in path)
    transfer.fetch_event_object(_event(bucket, "object.bin", SOURCES[kind]), service, providers, dest, policy=FAST)
    assert dest.read_bytes() == s3_server.read(bucket, "object.bin")


def test_a_long_download_logs_progress_lines(s3_server, tmp_path, supervisor_log):
    bucket = s3_server.bucket("slow-dl")
    s3_server.client.put_object(Bucket=bucket, Key="big.bin", Body=b"x" * 4096)
    proxy = FaultProxy(s3_server.url, delay=0.3)
    try:
        service = _service(proxy.url, inputs=[{"storage_provider": "minio.default", "path": bucket}])
        transfer.fetch_event_object(
            _event(bucket, "big.bin"), service, _providers(service, tmp_path), tmp_path / "big.bin",
            policy=FAST, progress_interval=0.05,
        )
    finally:
        proxy.stop()
    lines = [m for m in supervisor_log.messages if m.startswith("downloading ") and ":" in m]
    assert lines and lines[-1].startswith(f"downloading {bucket}/big.bin from minio.default: ")
