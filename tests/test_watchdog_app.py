"""The app factory in-process (Flask's test client): the same app gunicorn's workers load."""

from __future__ import annotations

import pytest

from fwatchdog.app import Runtime, create_app
from fwatchdog.config import WatchdogConfig


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


@pytest.mark.parametrize("path", ["/run/svc", "/run/svc/", "/run/svc/x/y", "/job/svc", "/job/svc/", "/job/svc/x"])
def test_the_token_covers_run_and_job_with_or_without_a_trailing_part(make_client, path):
    client = make_client(fprocess="cat", OSCAR_SERVICE_TOKEN="t")
    answer = client.post(path, data=b"hello")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Bearer realm="oscar"'
    assert client.post(path, data=b"hello", headers={"Authorization": "Bearer wrong"}).status_code == 401
    if path.startswith("/run"):  # (a job accepted here would outlive the test's runtime)
        accepted = client.post(path, data=b"hello", headers={"Authorization": "Bearer t"})
        assert (accepted.status_code, accepted.data) == (200, b"hello")


def test_other_paths_stay_open_by_default_for_what_oscar_forwards(make_client):
    """OSCAR 4 authenticates OIDC callers itself and forwards them to `/` with their own header (knative.go)."""
    client = make_client(fprocess="cat", OSCAR_SERVICE_TOKEN="t")
    answer = client.post("/", data=b"hello", headers={"Authorization": "Bearer an-oidc-token"})
    assert (answer.status_code, answer.data) == (200, b"hello")


def test_token_on_every_path_closes_every_invocation_path_but_health_and_metrics(make_client):
    client = make_client(fprocess="cat", OSCAR_SERVICE_TOKEN="t", token_on_every_path="true")
    for path in ("/", "/anything", "/run/svc", "/run/svc/x"):
        assert client.post(path, data=b"hello").status_code == 401, path
        assert client.post(path, data=b"hello", headers={"Authorization": "Bearer t"}).status_code == 200, path
    assert client.get("/_/health").status_code == 200
    assert client.get("/metrics").status_code == 200
