"""SPEC section 7 for the supervisor: every refused invocation gets one line, the right status, no leftovers."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

CASES = yaml.safe_load((Path(__file__).parent / "bad_input" / "cases.yaml").read_text())
SCRIPT = "#!/bin/sh\necho should-not-run > \"$TMP_OUTPUT_DIR/ran\"\n"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_refused(case, sandbox):
    sandbox.write_script(SCRIPT)
    if "config" in case:
        sandbox.write_config(case["config"])
    for key, content in (case.get("storage") or {}).items():
        (sandbox.storage / key).parent.mkdir(parents=True, exist_ok=True)
        (sandbox.storage / key).write_text(content)
    body = base64.b64decode(case["body_base64"]) if "body_base64" in case else case["body"].encode()

    run = sandbox.supervisor(body)

    assert run.returncode == case["exit"], run.stderr
    lines = run.text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.text
    assert case["message"] in lines[0]
    assert case["message"] in run.stderr
    assert "Traceback" not in run.stderr
    assert sandbox.leftovers() == []


def test_missing_script_is_a_config_error(sandbox):
    run = sandbox.supervisor(b"{}")
    assert run.returncode == 2
    assert run.text.startswith("error: no user script")


def test_bad_function_config_variable(sandbox):
    sandbox.write_script(SCRIPT)
    run = sandbox.supervisor(b"{}", env={"FUNCTION_CONFIG": "%%%not base64"})
    assert run.returncode == 2
    assert run.text == "error: FUNCTION_CONFIG: not valid base64\n"
