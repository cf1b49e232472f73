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

# Every key the runner reads: a misspelt one must fail the scenario, never turn its check off.
EXPECT_KEYS = {"exit", "env", "response", "stderr_contains", "storage", "storage_absent", "storage_before"}
RESPONSE_KEYS = {"equals", "equals_file", "base64_of_file", "contains", "ends_with", "zip"}


def _refuse_unknown_keys(expect: dict) -> None:
    unknown = set(expect) - EXPECT_KEYS
    assert not unknown, f"expect.yaml: unknown keys {sorted(unknown)} (known: {sorted(EXPECT_KEYS)})"
    unknown = set(expect.get("response") or {}) - RESPONSE_KEYS
    assert not unknown, f"expect.yaml response: unknown keys {sorted(unknown)} (known: {sorted(RESPONSE_KEYS)})"


@pytest.mark.parametrize("case", CASES)
def test_scenario(case, sandbox):
    folder = SCENARIOS / case
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    _refuse_unknown_keys(expect)
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


def test_a_misspelt_expect_key_is_refused():
    with pytest.raises(AssertionError, match="unknown keys"):
        _refuse_unknown_keys({"exit": 0, "stderr_contain": ["x"]})
    with pytest.raises(AssertionError, match="response: unknown keys"):
        _refuse_unknown_keys({"exit": 0, "response": {"equal": "x"}})
