"""The fork server's preparation before it forks: what its children find already done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faassupervisor.config import loader
from fwatchdog import forkprotocol, forkserver

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_server_reads_its_configs_from_the_cache_without_importing_pyyaml(sandbox):
    # A child parses them and caches them as JSON: PyYAML would only weigh down every fork.
    sandbox.write_config("name: cached\nlog_level: DEBUG\n")
    code = ("import sys; from fwatchdog import forkserver; from faassupervisor.config import loader; "
            "from faassupervisor import workdir; workdir.remove(forkserver.preload()); "
            "print('yaml' in sys.modules, sorted(key[0] for key in loader._PARSED))")
    done = subprocess.run([sys.executable, "-c", code], env=sandbox.env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    parsed = [b"name: cached\nlog_level: DEBUG\n", b"name: warm-up\nlog_level: DEBUG\n"]
    assert done.stdout == f"False {parsed}\n"
    assert len(list((sandbox.root / "cache").glob("*.json"))) == 1  # the warm-up's cache went with its dir


# Module -> why the fork server leaves it out: every fork copies (and every child's exit unmaps)
# what the server holds, so it imports what an invocation uses, and nothing else.
NOT_IN_THE_FORK_SERVER = {
    "typing": "annotations only, under TYPE_CHECKING (~1 MB of heap)",
    "yaml": "configs reach it parsed, from a child (the test above)",
    "flask": "the watchdog's app, served by gunicorn workers", "werkzeug": "Flask's",
    "gunicorn": "the watchdog's arbiter and workers", "prometheus_client": "the workers' /metrics oracle",
    "argparse": "command lines: the server's is one argument",
    "boto3": "a storage provider in use: imported by the child that uses it", "botocore": "boto3's",
    "minio": "a storage provider in use", "requests": "a storage provider in use",
    "urllib3": "a storage provider in use", "ssl": "a storage provider in use",
    "email": "multipart bodies", "zipfile": "responses of several files", "hashlib": "uploads",
    "concurrent.futures": "uploads of several files", "multiprocessing": "the watchdog's shared counters",
    "importlib.metadata": "storage providers from other distributions",
}


def test_the_server_after_its_warm_ups_holds_none_of_what_requests_seldom_need(sandbox):
    sandbox.write_script("#!/bin/sh\ntrue\n")
    code = ("import sys; from fwatchdog import forkserver; from faassupervisor import workdir; "
            "workdir.remove(forkserver.preload()); forkserver.warm_up(2); "
            "print(sorted(name for name in sys.argv[1:] if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, *NOT_IN_THE_FORK_SERVER], env=sandbox.env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


def test_without_a_usable_cache_the_server_parses_the_yaml_itself(sandbox):
    sandbox.write_config("name: uncached\n")
    cache = sandbox.root / "cache"
    cache.mkdir()
    cache.chmod(0o755)  # open to others: never used
    loader._PARSED.clear()
    forkserver.load_service_config(sandbox.env)
    assert [key[0] for key in loader._PARSED] == [b"name: uncached\n"]


def _warm_up_in_a_fresh_interpreter(env, runs: int) -> subprocess.CompletedProcess:
    code = f"import sys; from fwatchdog import forkserver; forkserver.warm_up({runs}); print(sys.stderr is sys.__stderr__)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_the_warm_up_runs_quietly_and_leaves_nothing(sandbox):
    done = _warm_up_in_a_fresh_interpreter(sandbox.env, 3)
    assert (done.returncode, done.stdout, done.stderr) == (0, "True\n", "")
    assert sandbox.leftovers() == []


def test_a_failed_warm_up_is_one_line_and_the_server_serves_anyway(sandbox):
    env = dict(sandbox.env, TMPDIR=str(sandbox.root / "missing"))
    done = _warm_up_in_a_fresh_interpreter(env, 3)
    assert done.returncode == 0 and done.stdout == "True\n"
    assert done.stderr.startswith("fork server: warm-up invocation failed (FileNotFoundError")
    assert len(done.stderr.splitlines()) == 1


def test_the_private_accept_a_spare_uses_still_gives_a_descriptor_and_the_peer():
    """`ForkServer.become_spare` calls `socket.socket._accept()`, a private method, to skip the
    enum conversions of `accept()` (measured: ~25 page faults per spare). This pins what it
    relies on: a plain descriptor, from which `socket.socket(fileno=...)` rebuilds the
    connection with its family, type and peer credentials. If a Python changes `_accept`, this
    fails, and the spare goes back to `accept()`."""
    import os
    import socket

    address = f"\0test-private-accept-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(address)
        listener.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as client:
            client.connect(address)
            fd, _address = listener._accept()  # type: ignore[attr-defined]
            assert isinstance(fd, int)
            with socket.socket(fileno=fd) as conn:
                assert (conn.family, conn.type) == (socket.AF_UNIX, socket.SOCK_SEQPACKET)
                assert forkprotocol.peer(conn) == (os.getpid(), os.getuid())
                client.send(b"hello")
                assert conn.recv(16) == b"hello"
