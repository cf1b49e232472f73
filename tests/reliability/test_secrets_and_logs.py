"""Issue item 9: the config cache keeps no secret and is closed to others; logs quote long values
shortened; a fork server killed with SIGKILL is logged as such."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SECRET = "s3cr3t-value-0123456789"
WITH_SECRET = f"""name: secrets
log_level: CRITICAL
storage_providers:
  minio:
    default:
      endpoint: http://127.0.0.1:1
      access_key: minio
      secret_key: {SECRET}
"""


def _cached(sandbox):
    cache = sandbox.root / "cache"
    return [path for path in cache.iterdir()] if cache.is_dir() else []


def test_a_config_with_secrets_is_never_cached(sandbox):
    sandbox.write_config(WITH_SECRET)
    sandbox.write_script("#!/bin/sh\necho ok\n")
    assert sandbox.supervisor(b'{"x": 1}').returncode == 0
    for path in _cached(sandbox):
        assert SECRET.encode() not in path.read_bytes()


def test_cache_files_are_0600(sandbox):
    sandbox.write_config("name: plain\nlog_level: CRITICAL\n")
    sandbox.write_script("#!/bin/sh\necho ok\n")
    assert sandbox.supervisor(b'{"x": 1}').returncode == 0
    files = _cached(sandbox)
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


def test_a_60kb_key_is_shortened_in_the_log(sandbox):
    sandbox.write_config("name: keys\nlog_level: DEBUG\ninput:\n- storage_provider: local\n  path: inbox\n")
    sandbox.write_script("#!/bin/sh\necho ok\n")
    key = "k" * 60_000
    event = ('{"Records":[{"eventSource":"minio:s3","s3":{"bucket":{"name":"inbox"},"object":{"key":"%s"}}}]}'
             % key).encode()
    run = sandbox.supervisor(event)
    assert run.returncode != 0
    assert run.stderr and max(len(line) for line in run.stderr.splitlines()) < 2000, len(run.stderr)


def test_forkserver_killed_is_logged_as_killed(watchdog, sandbox):
    sandbox.write_script("#!/bin/sh\necho ok\n")
    server = watchdog()
    first = server.forkserver()
    os.kill(first, signal.SIGKILL)
    server.wait_for(lambda: server.forkserver() not in (None, first), what="a new fork server")
    server.wait_for(lambda: server.post("/", b'{"x": 1}').status == 200, what="a 200 from the new fork server")
    assert "fork server killed by SIGKILL; restarting it" in server.log()
    assert "exited with status 0" not in server.log()


def test_the_fork_server_gets_a_secret_config_without_pyyaml_and_without_the_disk(sandbox):
    """A config with secrets is not cached on disk, yet the fork server still never imports
    PyYAML: its throw-away child hands the document over on a pipe."""
    sandbox.write_config(WITH_SECRET)
    code = ("import sys; from fwatchdog import forkserver; from faassupervisor.config import loader; "
            "forkserver.preload(); print('yaml' in sys.modules, len(loader._PARSED))")
    done = subprocess.run([sys.executable, "-c", code], env=sandbox.env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False 2\n"  # the service and the warm-up's, both parsed by children
    for path in _cached(sandbox):
        assert SECRET.encode() not in path.read_bytes()
