"""The app factory in-process (Flask's test client): the same app gunicorn's workers load."""

from __future__ import annotations

import pytest

from watchdog.app import Runtime, create_app
from watchdog.config import WatchdogConfig


@pytest.fixture
def make_client(sandbox):
    runtimes = []

    def make(**variables):
        env = dict(sandbox.env, suppress_lock="true", **variables)
        config = WatchdogConfig.from_environ(env)
        runtime = Runtime.build(config)
        runtimes.append(runtime)
        return create_app(config, runtime).test_client()

    yield make
    for runtime in runtimes:
        runtime.close()
    assert sandbox.leftovers() == []


def test_exec_mode_in_process(make_client):
    client = make_client(fprocess="cat", OSCAR_SERVICE_TOKEN="t")
    answer = client.post("/x", data=b"hello", headers={"Content-Type": "text/plain"})
    assert (answer.status_code, answer.data, answer.content_type) == (200, b"hello", "text/plain")
    assert client.post("/run/svc", data=b"hello").status_code == 401
    assert client.post("/run/svc", data=b"hello", headers={"Authorization": "Bearer t"}).data == b"hello"
    assert client.get("/_/health").status_code == 200
    assert b'http_requests_total{code="401",method="post"} 1.0' in client.get("/metrics").data


def test_fork_server_mode_in_process_starts_its_own_fork_server(make_client, sandbox):
    sandbox.write_script("#!/bin/sh\necho forked\n")
    sandbox.write_config("name: app\nlog_level: CRITICAL\n")
    client = make_client()
    for _ in range(3):
        answer = client.post("/", data=b'{"a": 1}')
        assert (answer.status_code, answer.data) == (200, b"forked\n")
    assert client.post("/", data=b"").status_code == 400
