"""`faas-supervisor run`: oscar-cli's flags, the same semantics as an HTTP invocation."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import SCENARIOS

COPY = "#!/bin/sh\ncp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/out\"\n"


@pytest.mark.parametrize("flag", ["--input", "--file-input", "-f"])  # -f/--file-input: oscar-cli's current spelling
def test_input_file_round_trip(sandbox, tmp_path, flag):
    script = tmp_path / "copy.sh"
    script.write_text(COPY)
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(200_000))
    out = tmp_path / "out.bin"
    run = sandbox.faas_supervisor("run", "--script", script, flag, source, "--output", out)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == source.read_bytes()
    assert sandbox.leftovers() == []


def test_text_input_without_output_prints_base64(sandbox, tmp_path):
    script = tmp_path / "copy.sh"
    script.write_text(COPY)
    run = sandbox.faas_supervisor("run", "--script", script, "--text-input", '{"message":"Hello World"}')
    assert run.returncode == 0
    assert run.decoded() == b'{"message":"Hello World"}'


def test_several_outputs_with_output_flag_give_a_zip(sandbox, tmp_path):
    folder = SCENARIOS / "several-outputs-zip"
    out = tmp_path / "result.zip"
    run = sandbox.faas_supervisor("run", "--script", folder / "script.sh", "--event", folder / "body",
                                  "--output", out)
    assert run.returncode == 0, run.stderr
    assert sorted(zipfile.ZipFile(out).namelist()) == ["a.txt", "sub/b.txt"]


def test_fdl_config_and_service_selection(sandbox, tmp_path):
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text(
        "functions:\n  oscar:\n  - c1:\n      name: one\n      log_level: CRITICAL\n"
        "      environment: {Variables: {WHO: first}}\n"
        "  - c1:\n      name: two\n      log_level: CRITICAL\n      environment: {Variables: {WHO: second}}\n"
    )
    script = tmp_path / "who.sh"
    script.write_text("echo $WHO\n")
    run = sandbox.faas_supervisor("run", "--script", script, "--config", fdl, "--service", "two",
                                  "--text-input", "x")
    assert (run.returncode, run.text) == (0, "second\n")


def test_missing_script_file_is_one_line(sandbox, tmp_path):
    run = sandbox.faas_supervisor("run", "--script", tmp_path / "nope.sh", "--text-input", "x")
    assert run.returncode == 2
    assert run.text.startswith("error: --script:") and run.text.count("\n") == 1


def test_python_dash_m_runs_the_supervisor_and_subcommands(sandbox, tmp_path):
    sandbox.write_script("echo via-module\n")
    sandbox.write_config("log_level: CRITICAL")
    proc = subprocess.run([sys.executable, "-m", "faassupervisor"], input=b"{}", env=sandbox.env,
                          capture_output=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, b"via-module\n")
    proc = subprocess.run([sys.executable, "-m", "faassupervisor", "run", "--help"], capture_output=True,
                          timeout=30, env=sandbox.env)
    assert proc.returncode == 0 and b"--text-input" in proc.stdout


def test_event_variable_when_stdin_is_empty(sandbox, tmp_path):
    """Kubernetes Jobs run `supervisor` with the event in EVENT and nothing on stdin."""
    (sandbox.storage / "inbox").mkdir()
    (sandbox.storage / "inbox" / "doc.txt").write_text("from storage\n")
    sandbox.write_script('cat "$INPUT_FILE_PATH"\necho "$STORAGE_OBJECT_KEY"\n')
    sandbox.write_config("log_level: CRITICAL\ninput: [{storage_provider: local, path: inbox}]\n")
    event = ('{"Records":[{"eventSource":"aws:s3","eventTime":"now",'
             '"s3":{"bucket":{"name":"inbox"},"object":{"key":"doc.txt"}}}]}')
    run = sandbox.supervisor(b"", env={"EVENT": event})
    assert (run.returncode, run.text) == (0, "from storage\ndoc.txt\n")


def test_event_flag_sends_json_without_writing_a_content_type_into_the_scripts_environment(sandbox, tmp_path):
    script = tmp_path / "env.sh"
    script.write_text('#!/bin/sh\necho "type=${Http_Content_Type:-unset} mime=$INPUT_FILE_MIME"\n')
    event = tmp_path / "event.json"
    event.write_text('{"a": 1}')
    run = sandbox.faas_supervisor("run", "--script", script, "--event", event, "--output", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    # The content type travels as an option, not through the environment the script inherits.
    assert (tmp_path / "out").read_text().endswith("\ntype=unset mime=application/json\n")


def test_run_does_not_import_the_supervisor_entry_point(sandbox, tmp_path):
    """`faas-supervisor run` reaches the invocation without `faassupervisor.__main__` (no import cycle)."""
    script = tmp_path / "hi.sh"
    script.write_text("echo hi\n")
    code = (
        "import sys\n"
        "from faassupervisor import cli\n"
        f"status = cli.faas_supervisor(['run', '--script', {str(script)!r}, '--text-input', 'x'])\n"
        "assert status == 0, status\n"
        "assert 'faassupervisor.__main__' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=sandbox.env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
