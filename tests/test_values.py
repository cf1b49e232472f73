"""Booleans and durations read the same wherever a user writes them: variables, flags, YAML."""

from __future__ import annotations

import pytest

from faassupervisor.cli import supervisor_parser
from faassupervisor.config.service import parse_bool as service_bool
from faassupervisor.errors import BadConfig
from fwatchdog.config import ConfigError, WatchdogConfig


@pytest.mark.parametrize("word, meaning", [("true", True), ("Yes", True), (" on ", True), ("1", True),
                                           ("FALSE", False), ("no", False), ("off", False), ("0", False)])
def test_a_boolean_means_the_same_to_the_watchdog_and_the_service_config(word, meaning):
    assert WatchdogConfig.from_environ({"fprocess": "cat", "write_debug": word}).write_debug is meaning
    assert service_bool(word, "file_stage_in") is meaning


def test_a_word_that_is_no_boolean_is_refused_by_both_in_the_same_words():
    with pytest.raises(ConfigError, match="expected true or false"):
        WatchdogConfig.from_environ({"fprocess": "cat", "write_debug": "maybe"})
    with pytest.raises(BadConfig, match="file_stage_in: expected true or false, got 'maybe'"):
        service_bool("maybe", "file_stage_in")


@pytest.mark.parametrize("text, seconds", [("30", 30.0), ("1.5", 1.5), ("1m30s", 90.0), ("500ms", 0.5)])
def test_the_supervisor_timeout_reads_durations_as_the_watchdog_timeouts(text, seconds):
    assert supervisor_parser().parse_args(["--timeout", text]).timeout == seconds
    assert WatchdogConfig.from_environ({"fprocess": "cat", "exec_timeout": text}).exec_timeout == seconds


@pytest.mark.parametrize("text", ["0", "0s", "soon", "-1"])
def test_the_supervisor_timeout_must_be_positive_seconds(text, capsys):
    with pytest.raises(SystemExit):
        supervisor_parser().parse_args(["--timeout", text])
    assert "--timeout" in capsys.readouterr().err
