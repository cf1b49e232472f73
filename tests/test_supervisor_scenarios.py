"""Each directory under tests/scenarios is one invocation of the real `supervisor` command.

A scenario holds `script.sh`, an optional `function_config.yaml`, the request
`body`, and `expect.yaml`: the exit status, the environment (CGI variables),
and what the response and the local storage must hold afterwards.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import SCENARIOS

CASES = sorted(p.name for p in SCENARIOS.iterdir() if (p / "expect.yaml").is_file())


@pytest.mark.parametrize("case", CASES)
def test_scenario(case, sandbox):
    folder = SCENARIOS / case
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    sandbox.write_script((folder / "script.sh").read_text())
    if (folder / "function_config.yaml").is_file():
        sandbox.write_config((folder / "function_config.yaml").read_text())
    for key, content in (expect.get("storage_before") or {}).items():
        target = sandbox.storage / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    run = sandbox.supervisor((folder / "body").read_bytes(), env=expect.get("env"))

    assert run.returncode == expect["exit"], run.stderr
    _check_response(run.stdout, expect.get("response") or {}, folder)
    for fragment in expect.get("stderr_contains", []):
        assert fragment in run.stderr
    for key, content in (expect.get("storage") or {}).items():
        assert (sandbox.storage / key).read_text() == content, key
    for key in expect.get("storage_absent", []):
        assert not (sandbox.storage / key).exists(), key
    assert sandbox.leftovers() == []


def _check_response(body: bytes, rules: dict, folder: Path) -> None:
    text = body.decode("utf-8", "replace")
    if "equals" in rules:
        assert text == rules["equals"]
    if "equals_file" in rules:
        assert body == (folder / rules["equals_file"]).read_bytes()
    if "base64_of_file" in rules:
        assert base64.b64decode(body, validate=True) == (folder / rules["base64_of_file"]).read_bytes()
    for fragment in rules.get("contains", []):
        assert fragment in text
    if "ends_with" in rules:
        assert text.endswith(rules["ends_with"])
    if "zip" in rules:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(body, validate=True)))
        assert {n: archive.read(n).decode() for n in archive.namelist()} == rules["zip"]
