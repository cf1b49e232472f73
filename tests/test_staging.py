"""`faassupervisor.events.staging`: one way from a body or a storage event to the script's input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from faassupervisor.config.service import ServiceConfig
from faassupervisor.errors import BadInput
from faassupervisor.events import staging
from faassupervisor.storage.provider import ProviderContext
from faassupervisor.storage.registry import ProviderSet

EVENT = json.dumps({
    "Records": [{
        "eventSource": "minio:s3",
        "eventTime": "2026-11-23T10:00:00.000Z",
        "s3": {"bucket": {"name": "in"}, "object": {"key": "a/b.txt"}},
    }]
}).encode()


def _stage(tmp_path: Path, body: bytes, content_type=None, **config):
    service = ServiceConfig.from_mapping({
        "name": "staging",
        "input": [{"storage_provider": "minio.default", "path": "in"}],
        "storage_providers": {"minio": {"default": {"endpoint": "http://127.0.0.1:9", "access_key": "a",
                                                    "secret_key": "b"}}},
        **config,
    })
    input_dir = tmp_path / "input"
    input_dir.mkdir(exist_ok=True)
    providers = ProviderSet(service, ProviderContext(str(tmp_path / "local"), str(tmp_path / "secrets")))
    return staging.stage_input(io.BytesIO(body), None, content_type, str(input_dir), service, providers), input_dir


def test_a_storage_event_is_parsed_in_memory_and_never_decoded_to_a_file(tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a storage event must not be written as an input file")

    monkeypatch.setattr(staging, "decode_body", refuse)
    staged, input_dir = _stage(tmp_path, b"  " + EVENT + b"\n", file_stage_in=True)
    assert staged.event is not None and (staged.event.bucket, staged.event.key) == ("in", "a/b.txt")
    assert staged.variables["STORAGE_OBJECT_KEY"] == "a/b.txt"
    assert staged.variables["EVENT"] == "  " + EVENT.decode() + "\n"  # as received
    assert staged.variables["INPUT_FILE_PATH"] == str(input_dir / "b.txt")
    assert list(input_dir.iterdir()) == []


@pytest.mark.parametrize("content_type", ["application/octet-stream", "multipart/form-data; boundary=x"])
def test_a_body_whose_type_says_what_it_is_is_never_read_as_an_event(tmp_path, content_type):
    if content_type.startswith("multipart"):
        body = (b"--x\r\nContent-Disposition: form-data; name=f; filename=e.json\r\n\r\n" + EVENT + b"\r\n--x--\r\n")
    else:
        body = EVENT
    staged, input_dir = _stage(tmp_path, body, content_type)
    assert staged.event is None
    assert Path(staged.variables["INPUT_FILE_PATH"]).read_bytes() == EVENT


def test_json_that_only_looks_like_an_event_is_plain_input(tmp_path):
    body = json.dumps({"Records": "not a list", "note": "caf\\u00e9"}).encode()
    staged, _ = _stage(tmp_path, body)
    assert staged.event is None
    assert staged.variables["INPUT_FILE_MIME"] == "application/json"
    assert Path(staged.variables["INPUT_FILE_PATH"]).read_bytes() == body


def test_an_event_with_nan_is_refused_as_json_is(tmp_path):
    with pytest.raises(BadInput):
        _stage(tmp_path, EVENT[:-1] + b', "x": NaN}')


def test_a_large_json_body_is_written_whole_and_not_parsed_as_an_event(tmp_path):
    body = b'{"Records": [], "pad": "' + b"x" * (staging.EVENT_LIMIT + 10) + b'"}'
    staged, _ = _stage(tmp_path, body)
    assert staged.event is None
    assert Path(staged.variables["INPUT_FILE_PATH"]).read_bytes() == body
