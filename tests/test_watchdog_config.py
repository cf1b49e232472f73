"""The watchdog's settings: classic names, strict parsing, one-line errors, the generated table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fwatchdog.__main__ import main
from fwatchdog.config import SETTINGS, ConfigError, WatchdogConfig, markdown_table
from fwatchdog.status import Outcome, outcome_of_exit

from tests.watchdog_server import FWATCHDOG

CLASSIC = ("fprocess", "read_timeout", "write_timeout", "exec_timeout", "max_inflight", "write_debug",
           "combine_output", "content_type", "cgi_headers", "marshal_request", "suppress_lock",
           "healthcheck_interval", "port")


def test_defaults_are_classics():
    config = WatchdogConfig.from_environ({})
    assert config.fprocess == ("supervisor",) and config.uses_supervisor
    assert (config.read_timeout, config.write_timeout, config.exec_timeout) == (5.0, 5.0, 0.0)
    assert config.healthcheck_interval == config.write_timeout
    assert (config.port, config.max_inflight, config.combine_output, config.cgi_headers) == (8080, 0, True, True)
    assert config.lock_path == "/tmp/.lock"


@pytest.mark.parametrize("text, seconds", [
    ("30", 30.0), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("0", 0.0), ("2.5", 2.5),
])
def test_durations_as_classic_reads_them(text, seconds):
    assert WatchdogConfig.from_environ({"exec_timeout": text}).exec_timeout == seconds


@pytest.mark.parametrize("name, value", [
    ("max_inflight", "abc"), ("max_inflight", "-1"), ("exec_timeout", "30x"), ("read_timeout", "-5s"),
    ("write_debug", "maybe"), ("port", "70000"), ("max_body_size", "12 parsecs"), ("workers", "0"),
    ("fprocess", "'unclosed"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        WatchdogConfig.from_environ({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}=") and "\n" not in message


def test_the_token_is_never_echoed():
    # A valid token cannot fail to parse; what matters is that a config error never prints it.
    config = WatchdogConfig.from_environ({"OSCAR_SERVICE_TOKEN": "s3cr3t"})
    assert config.service_token == "s3cr3t" and "s3cr3t" not in repr(config)


@pytest.mark.parametrize("text, size", [("1048576", 1 << 20), ("100M", 10**8), ("512Mi", 512 << 20), ("1Gi", 1 << 30)])
def test_sizes(text, size):
    assert WatchdogConfig.from_environ({"max_body_size": text}).max_body_size == size


@pytest.mark.parametrize("fprocess, forked", [
    ("supervisor", True), ("/oscar/bin/supervisor", True), ("/opt/kit/bin/supervisor", True),
    ("cat", False), ("supervisor --timeout 3", False), ("python3 handler.py", False), ("/bin/nosupervisor", False),
])
def test_which_fprocess_uses_the_fork_server(fprocess, forked):
    assert WatchdogConfig.from_environ({"fprocess": fprocess}).uses_supervisor is forked


def test_empty_values_mean_the_default():
    assert WatchdogConfig.from_environ({"fprocess": "", "port": " "}).port == 8080


def test_markdown_table_lists_every_setting():
    table = markdown_table()
    for setting in SETTINGS:
        assert f"| `{setting.env}`" in table
    for name in CLASSIC:
        assert f"| `{name}` |" in table


def test_python_m_watchdog_config_markdown():
    result = subprocess.run([sys.executable, "-m", "fwatchdog.config", "--markdown"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == markdown_table()
    assert result.stderr == ""  # no "found in sys.modules" warning: the package does not import it eagerly


def test_fwatchdog_bad_value_is_one_line_and_non_zero(sandbox):
    env = dict(sandbox.env, max_inflight="abc")
    result = subprocess.run([FWATCHDOG], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "fwatchdog: max_inflight='abc': expected a non-negative integer\n"


def test_install_without_the_installer_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fwatchdog.install", None)  # as if the module were not in this build
    assert main(["install", "/nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fwatchdog: install is not available") and err.count("\n") == 1


def test_install_dispatches_to_the_installer(monkeypatch):
    import types

    calls = []
    fake = types.ModuleType("fwatchdog.install")
    fake.install = lambda target: calls.append(target) or 0
    monkeypatch.setitem(sys.modules, "fwatchdog.install", fake)
    assert main(["install", "/oscar/bin"]) == 0
    assert calls == ["/oscar/bin"]


@pytest.mark.parametrize("status, supervisor, outcome", [
    (0, True, Outcome.SUCCEEDED), (1, True, Outcome.FAILED), (2, True, Outcome.BAD_INPUT),
    (3, True, Outcome.STORAGE_FAILED), (143, True, Outcome.FAILED), (-9, True, Outcome.FAILED),
    (0, False, Outcome.SUCCEEDED), (2, False, Outcome.FAILED), (3, False, Outcome.FAILED),
])
def test_one_status_table(status, supervisor, outcome):
    assert outcome_of_exit(status, supervisor) is outcome


def test_http_statuses_of_the_table():
    assert {o.name: o.status for o in Outcome} == {
        "SUCCEEDED": 200, "JOB_ACCEPTED": 201, "BAD_INPUT": 400, "UNAUTHORIZED": 401, "UNKNOWN_SERVICE": 404,
        "METHOD_NOT_ALLOWED": 405, "TIMED_OUT": 408, "BODY_TOO_LARGE": 413, "TOO_MANY": 429, "FAILED": 500,
        "STORAGE_FAILED": 500, "UNAVAILABLE": 503,
    }


def test_the_documented_table_is_the_generated_one():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    documents = [root / "README.md", root / "docs" / "watchdog.md"]
    texts = [path.read_text() for path in documents if path.is_file()]
    assert any(markdown_table() in text for text in texts), "regenerate it: python -m fwatchdog.config --markdown"


def test_token_on_every_path_without_a_token_refuses_to_start():
    with pytest.raises(ConfigError, match="^token_on_every_path=true: OSCAR_SERVICE_TOKEN is not set"):
        WatchdogConfig.from_environ({"token_on_every_path": "true"})
    assert WatchdogConfig.from_environ({"token_on_every_path": "1", "OSCAR_SERVICE_TOKEN": "t"}).token_on_every_path
