"""A real `fwatchdog` on a free 127.0.0.1 port, for the watchdog's tests and benchmark.

Started as a subprocess in its own session, polled until `/_/health` answers,
and always torn down (SIGTERM, then SIGKILL of whatever is left of its tree).
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from faassupervisor import process_tree

FWATCHDOG = str(Path(sys.executable).parent / "fwatchdog")
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Answer:
    status: int
    headers: Dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class WatchdogProcess:
    """One fwatchdog; `variables` are its environment on top of `base_env`."""

    def __init__(self, base_env: Mapping[str, str], variables: Mapping[str, str], log_dir: Optional[str] = None,
                 command: Sequence[str] = (FWATCHDOG,)):
        self.command = list(command)
        self.port = free_port()
        self.env = dict(base_env)
        self.env.update({"port": str(self.port), "listen_address": "127.0.0.1", "healthcheck_interval": "0"})
        self.env.update({k: str(v) for k, v in variables.items()})
        self.log_path = Path(log_dir or tempfile.mkdtemp(prefix="fwatchdog-log-")) / f"fwatchdog-{self.port}.log"
        self.process: Optional[subprocess.Popen] = None

    # ---- life

    def start(self) -> "WatchdogProcess":
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fwatchdog exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.get("/_/health", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"fwatchdog did not become healthy:\n{self.log()}")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; whatever is left after `timeout` is killed. Returns the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        if self.process is None:
            return
        process_tree.kill_descendants(self.process.pid)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ---- processes

    @property
    def pid(self) -> int:
        return self.process.pid

    def tree(self) -> List[int]:
        """The arbiter and all its descendants (workers, fork server, invocations)."""
        return [self.pid] + process_tree.descendants(self.pid)

    def workers(self) -> List[int]:
        return [pid for pid in children(self.pid) if b"forkserver" not in _cmdline(pid)]

    def forkserver(self) -> Optional[int]:
        found = [pid for pid in children(self.pid) if b"fwatchdog.forkserver" in _cmdline(pid)]
        return found[0] if found else None

    # ---- HTTP

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, body: Union[bytes, Iterable[bytes], None] = None,
                headers: Optional[Mapping[str, str]] = None, timeout: float = 60) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            chunked = body is not None and not isinstance(body, (bytes, bytearray))
            conn.request(method, path, body=body, headers=dict(headers or {}), encode_chunked=chunked)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def post(self, path: str = "/", body=b"", **kwargs) -> Answer:
        return self.request("POST", path, body, **kwargs)

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, None, **kwargs)

    def metric(self, name: str, **labels) -> float:
        """One sample of /metrics (0 when absent)."""
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
        for line in self.get("/metrics").text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if _canonical(key) == wanted:
                return float(value)
        return 0.0

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        if callable(what):
            what = what()  # a description computed at failure time, with the state that failed
        raise AssertionError(f"timed out waiting for {what}\n{self.log()[-3000:]}")


def _canonical(key: str) -> str:
    """`name{b="2",a="1"}` with its labels sorted."""
    if "{" not in key:
        return key
    name, _, rest = key.partition("{")
    labels = sorted(part for part in rest.rstrip("}").split(",") if part)
    return name + "{" + ",".join(labels) + "}"


def children(pid: int) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            if int(data[data.rindex(b")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def zombies(pids: Iterable[int]) -> List[int]:
    """Zombie children of any of `pids`."""
    parents = set(pids)
    return [pid for pid, proc in process_tree.process_table().items() if proc.state == "Z" and proc.ppid in parents]


def open_fds(pid: int) -> List[str]:
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return sorted(fds)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:data.rindex(b")") + 3] not in (b"Z", b"X")


try:
    import pytest
except ImportError:  # pragma: no cover - the benchmark imports this module without pytest
    pytest = None

if pytest is not None:

    @pytest.fixture
    def watchdog(sandbox):
        """`watchdog(**variables)` starts an fwatchdog in the sandbox; all are stopped and checked at teardown:
        exit status 0 after SIGTERM, and nothing left behind in TMPDIR (temp dirs, lock file, fork server socket)."""
        started: List[WatchdogProcess] = []

        def start(**variables) -> WatchdogProcess:
            server = WatchdogProcess(sandbox.env, variables, log_dir=str(sandbox.root))
            started.append(server)
            return server.start()

        yield start
        failures = []
        for server in started:
            if server.process is not None and server.process.poll() is None:
                status = server.terminate()
                if status != 0:
                    failures.append(f"fwatchdog exited with {status}:\n{server.log()[-3000:]}")
        left = sandbox.leftovers()
        assert not failures, failures
        assert left == [], f"left behind in TMPDIR: {left}"
