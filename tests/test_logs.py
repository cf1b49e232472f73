"""The supervisor's own log lines: OSCAR's format, gated per sink."""

from __future__ import annotations

import io
import re

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
    log = logs.get_logger("faassupervisor.test")
    log.info("hidden %d", 1)
    log.warning("shown %s", "here")
    assert _levels(console.getvalue()) == [("WARNING", "shown here")]
    assert captured.messages == ["shown here"] and captured.text().decode() == console.getvalue()


def test_errors_reach_the_console_even_at_critical_but_not_the_response(console):
    captured = logs.configure("CRITICAL", stream=console)
    logs.get_logger("x").error("why it failed")
    assert _levels(console.getvalue()) == [("ERROR", "why it failed")]
    assert captured.lines == []


def test_a_traceback_is_appended_only_when_asked(console):
    logs.configure("DEBUG", stream=console, capture=False)
    try:
        raise ValueError("boom")
    except ValueError:
        logs.get_logger("x").debug("failed", exc_info=True)
    text = console.getvalue()
    assert " - supervisor - DEBUG - failed\nTraceback" in text and text.rstrip().endswith("ValueError: boom")


def test_a_broken_console_does_not_fail_the_caller():
    stream = io.StringIO()
    stream.close()
    captured = logs.configure("INFO", stream=stream)
    try:
        logs.get_logger("x").info("still kept")
    finally:
        logs.configure("INFO", capture=False)
    assert captured.messages == ["still kept"]
