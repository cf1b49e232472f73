"""The fork server's preparation before it forks: what its children find already done."""

from __future__ import annotations

from faassupervisor.config import loader
from watchdog import forkserver


def test_the_service_config_is_parsed_before_forking(sandbox):
    text = "name: parsed-once\nlog_level: DEBUG\n"
    sandbox.write_config(text)
    loader._PARSED.clear()
    forkserver.load_service_config(sandbox.env)
    # every child forked from here finds the service under the very text it reads from disk
    assert [key[0] for key in loader._PARSED] == [text.encode()]


def test_a_bad_service_config_is_left_to_the_invocations(sandbox):
    sandbox.write_config("name: [unclosed\n")
    loader._PARSED.clear()
    forkserver.load_service_config(sandbox.env)  # no exception: each request reports it, one line
    assert loader._PARSED == {}
