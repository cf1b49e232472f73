"""The supervisor's own log lines: OSCAR's format, gated per sink."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys

import pytest

from faassupervisor import logs

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - supervisor - (\w+) - (.*)$")


@pytest.fixture
def console():
    stream = io.StringIO()
    yield stream
    logs.configure("INFO", capture=False)


def _levels(text: str) -> list:
    return [LINE.match(line).groups() for line in text.splitlines()]


def test_lines_have_oscars_format_and_respect_the_level(console):
    captured = logs.configure("WARNING", stream=console)
    log = logging.getLogger("faassupervisor.test")
    log.info("hidden %d", 1)
    log.warning("shown %s", "here")
    assert _levels(console.getvalue()) == [("WARNING", "shown here")]
    assert captured.messages == ["shown here"] and captured.text().decode() == console.getvalue()


def test_errors_reach_the_console_even_at_critical_but_not_the_response(console):
    captured = logs.configure("CRITICAL", stream=console)
    logging.getLogger("faassupervisor.test").error("why it failed")
    assert _levels(console.getvalue()) == [("ERROR", "why it failed")]
    assert captured.lines == []


def test_a_traceback_is_appended_only_when_asked(console):
    logs.configure("DEBUG", stream=console, capture=False)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("faassupervisor.test").debug("failed", exc_info=True)
    text = console.getvalue()
    assert " - supervisor - DEBUG - failed\nTraceback" in text and text.rstrip().endswith("ValueError: boom")


def test_a_broken_console_does_not_fail_the_caller():
    stream = io.StringIO()
    stream.close()
    captured = logs.configure("INFO", stream=stream)
    try:
        logging.getLogger("faassupervisor.test").info("still kept")
    finally:
        logs.configure("INFO", capture=False)
    assert captured.messages == ["still kept"]


def test_logger_exception_appends_the_traceback(console):
    captured = logs.configure("INFO", stream=console)
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("faassupervisor.test").exception("lookup failed")
    assert captured.text().decode() == console.getvalue()
    assert _levels(console.getvalue().splitlines()[0]) == [("ERROR", "lookup failed")]
    assert console.getvalue().rstrip().endswith("KeyError: 'missing'")


def test_sdk_warnings_share_the_format_and_their_debug_lines_stay_out(console):
    # boto3, minio and urllib3 log through `logging` under their own names.
    captured = logs.configure("DEBUG", stream=console)
    logging.getLogger("urllib3.connectionpool").warning("Retrying %s", "(Retry(total=2))")
    logging.getLogger("botocore.endpoint").debug("Sending http request: %s", "<AWSPreparedRequest>")
    assert _levels(console.getvalue()) == [("WARNING", "Retrying (Retry(total=2))")]
    assert captured.messages == ["Retrying (Retry(total=2))"]


def test_long_quoted_values_are_shortened_in_lines_and_messages(console):
    captured = logs.configure("INFO", stream=console)
    key = "k" * 60000
    logging.getLogger("faassupervisor.test").info("uploaded %s to %s", key, "bucket")
    ((level, message),) = _levels(console.getvalue())
    assert message == captured.messages[0] == f"uploaded {logs.shorten(key)} to bucket"
    assert len(message) < 400 and "[59700 characters]" in message


def test_the_capture_is_bounded_and_the_console_still_gets_every_line(console):
    captured = logs.configure("INFO", stream=console)
    log = logging.getLogger("faassupervisor.test")
    for number in range(3000):
        log.info("line %d %s", number, "x" * 500)
    assert len(console.getvalue().splitlines()) == 3000
    assert (1 << 20) <= len(captured.text()) < (1 << 20) + 1000


def test_a_bad_format_string_does_not_fail_the_caller():
    # In a fresh interpreter: pytest's own capture handler re-raises formatting errors.
    code = ("import io, logging; from faassupervisor import logs\n"
            "out = io.StringIO(); kept = logs.configure('INFO', stream=out)\n"
            "log = logging.getLogger('faassupervisor.test')\n"
            "log.info('count %d', 'not a number'); log.info('next')\n"
            "print(kept.messages, out.getvalue().count(' - supervisor - '))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "['next'] 1\n")
    assert "not a number" in done.stderr  # logging's own report, as for any handler
