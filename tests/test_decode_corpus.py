"""The body corpus: every file under tests/bodies/{valid,invalid} with its expectation.

Each body is decoded whole and in tiny chunks (so every token, escape, padding
and boundary is also split across chunk edges somewhere).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from faassupervisor.errors import BadInput, ExitStatus
from faassupervisor.events.body import DEFAULT_NAME, decode_body

BODIES = Path(__file__).parent / "bodies"
EXPECTATIONS = yaml.safe_load((BODIES / "expectations.yaml").read_text(encoding="utf-8"))
CHUNK_SIZES = [1 << 20, 1, 3, 64]


def _cases(group):
    return [pytest.param(name, spec, id=name) for name, spec in sorted(EXPECTATIONS[group].items())]


def test_every_body_has_an_expectation_and_back():
    for group in ("valid", "invalid"):
        on_disk = {p.name for p in (BODIES / group).iterdir()}
        assert on_disk == set(EXPECTATIONS[group]), group


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("name,spec", _cases("valid"))
def test_valid_body(name, spec, chunk_size, tmp_path):
    body = (BODIES / "valid" / name).read_bytes()
    with open(BODIES / "valid" / name, "rb") as stream:
        decoded = decode_body(stream, spec.get("content_type"), tmp_path, chunk_size=chunk_size)

    assert decoded.kind == spec["kind"]
    assert decoded.path == str(tmp_path / spec.get("name", DEFAULT_NAME))  # a str: see faassupervisor.config.settings
    assert [p.name for p in tmp_path.iterdir()] == [Path(decoded.path).name]  # nothing else left behind
    written = Path(decoded.path).read_bytes()
    assert decoded.size == len(written)
    expected = spec.get("output")
    if expected == "body":
        assert written == body
    elif expected:
        assert written == (BODIES / "decoded" / expected).read_bytes()


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("name,spec", _cases("invalid"))
def test_invalid_body(name, spec, chunk_size, tmp_path):
    with open(BODIES / "invalid" / name, "rb") as stream:
        with pytest.raises(BadInput) as caught:
            decode_body(stream, spec.get("content_type"), tmp_path, chunk_size=chunk_size)

    message = str(caught.value)
    assert spec["error"] in message
    assert "\n" not in message and len(message) < 400
    assert caught.value.exit_status == ExitStatus.BAD_INPUT
    assert list(tmp_path.iterdir()) == []  # the partial input file is removed


def test_failure_late_in_a_large_body_removes_the_partial_file(tmp_path):
    good = b"QUJD" * (1 << 20)  # 4 MiB of valid base64 (3 MiB decoded) before the bad byte
    with pytest.raises(BadInput, match=r"at byte 4194304: '\?'"):
        decode_body(io.BytesIO(good + b"?"), None, tmp_path, chunk_size=1 << 16)
    assert list(tmp_path.iterdir()) == []


def test_a_read_error_removes_the_partial_file_and_propagates(tmp_path):
    class Broken:
        """A client that sends 8 bytes of base64 and then drops the connection."""

        calls = 0

        def read(self, size):
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("client went away")
            return b"QUJD"

    with pytest.raises(ConnectionResetError):
        decode_body(Broken(), "text/plain", tmp_path, chunk_size=4)
    assert list(tmp_path.iterdir()) == []


def test_multipart_name_cannot_escape_the_input_dir(tmp_path):
    inside = tmp_path / "in"
    inside.mkdir()
    body = (
        b"--b\r\nContent-Disposition: form-data; name=f; filename=\"../../../../tmp/evil\"\r\n\r\n"
        b"x\r\n--b--\r\n"
    )
    decoded = decode_body(io.BytesIO(body), "multipart/form-data; boundary=b", inside)
    assert decoded.path == str(inside / "evil")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
