"""The watchdog's side of the fork server: starting it, and asking it for one supervisor per request.

`ForkServerProcess` is owned by whoever starts the fork server (the gunicorn
arbiter, or a standalone app): it starts `python -m fwatchdog.forkserver`,
restarts it if it dies, stops it at exit. `ForkRunner` is used per request
from the gunicorn worker threads: one connection per invocation, the body and
response pipes handed over with SCM_RIGHTS (`fwatchdog.forkprotocol`).
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import signal
import socket
import subprocess
import secrets
import sys
import threading
import time
from typing import Mapping, Optional

from fwatchdog.child import Child, RunnerUnavailable
from fwatchdog import forkprotocol

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # importing the supervisor on a slow, cold container
PID_WAIT = 10.0  # how long a kill waits for a child to take the request


class ForkServerUnavailable(RunnerUnavailable):
    """The fork server is not running (it is being restarted)."""


class ForkServerProcess:
    """Starts, watches and stops the fork server process."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = dict(environ)
        self.name = f"@fwatchdog-forkserver-{os.getpid()}-{secrets.token_hex(8)}"
        self.path = forkprotocol.socket_address(self.name)
        self.process: Optional[subprocess.Popen] = None
        self._starting: Optional[subprocess.Popen] = None  # spawned, not yet ready
        self._warm_dir: Optional[str] = None  # the ready server's warm-up directory
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start it and wait until it accepts; raises RuntimeError with its one-line reason."""
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start it without waiting: it pre-imports the supervisor while the caller goes on
        (`fwatchdog` imports gunicorn and Flask meanwhile, on the other core). `wait_ready` next."""
        if self._starting is None:
            self._starting = subprocess.Popen(
                [sys.executable, "-m", "fwatchdog.forkserver", self.name],
                stdin=subprocess.PIPE,  # our end stays open while we live: its EOF stops the server
                stdout=subprocess.PIPE,
                env=self.environ,
                close_fds=True,
            )

    def wait_ready(self) -> None:
        """Until the spawned server accepts; raises RuntimeError with its one-line reason."""
        process, self._starting = self._starting, None
        assert process is not None and process.stdout is not None  # spawn() ran first (start, or fwatchdog's main); stdout=PIPE
        line = _read_line(process.stdout, START_TIMEOUT)
        process.stdout.close()
        word, _, warm_dir = line.strip().partition(b" ")
        if word != b"ready":
            process.kill()
            process.wait()
            raise RuntimeError("fork server did not start (its error is logged above)")
        self.process = process
        self._warm_dir = os.fsdecode(warm_dir) or None
        log.debug("fork server %s listening on %s", process.pid, self.path)

    def ensure_running(self) -> None:
        """Restart the fork server if it died (called from the arbiter's loop)."""
        with self._lock:
            if self.process is None:
                self.start()
            elif self.process.poll() is not None:
                log.error("fork server %s; restarting it", describe_exit(self.process.returncode))
                self._remove_warm_dir()
                self.start()

    def poll(self) -> None:
        """Collect the server's exit status if it has ended (before anyone else's waitpid(-1) does)."""
        process = self.process
        if process is not None:
            process.poll()

    def detach(self) -> None:
        """In a forked gunicorn worker: drop our copy of the server's stdin, so only the arbiter keeps it alive."""
        if self.process is not None and self.process.stdin is not None:
            try:
                os.close(self.process.stdin.fileno())
            except OSError:
                pass

    def stop(self, timeout: float = 10.0) -> None:
        """Close its stdin: it kills any invocation still running and exits."""
        process, self.process = self.process, None
        if process is None:
            return
        assert process.stdin is not None  # stdin=PIPE (spawn)
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._remove_warm_dir()

    def _remove_warm_dir(self) -> None:
        """What a fork server that died during its warm-ups left (it removes it itself otherwise)."""
        if self._warm_dir is not None:
            from faassupervisor import workdir

            workdir.remove(self._warm_dir)
            self._warm_dir = None


def describe_exit(returncode: int) -> str:
    """`killed by SIGKILL` or `exited with status 1`, from a Popen returncode."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _read_line(stream, timeout: float) -> bytes:
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return data
            chunk = os.read(stream.fileno(), 64)
            if not chunk:
                return data
            data += chunk
    finally:
        selector.close()
    return data


class ForkedChild(Child):
    """A supervisor forked by the fork server; what it tells us arrives on the control socket.

    That socket is not watched while the invocation runs: the child sends `pid` and
    `content_type` before its first output byte and `exit` right after closing its output, so
    each message is already there when needed (when the output is complete or large enough
    to stream, or for a kill). Reading them then, in one go, spares the worker a wake-up per
    message.
    """

    def __init__(self, conn: socket.socket, stdin: Optional[int], stdout: int):
        self.conn: Optional[socket.socket] = conn
        self.stdin = stdin
        self.stdout = stdout
        self.pid = 0
        self._content_type: Optional[str] = None

    @property
    def content_type(self) -> Optional[str]:  # type: ignore[override]  # read lazily off the control socket; nobody sets it on a ForkedChild
        self._drain()
        return self._content_type

    def wait_for_pid(self, timeout: float) -> None:
        """Until a child has taken the request (it may still wait for a spare to accept it)."""
        self._wait_until(lambda: self.pid, timeout)
        if not self.pid:
            if self.conn is not None:
                raise ForkServerUnavailable(f"no child of the fork server took the request within {timeout:g}s")
            raise ForkServerUnavailable("the fork server's child closed the connection before starting")

    def wait(self, timeout: Optional[float]) -> Optional[int]:
        self._wait_until(lambda: self.exit_status is not None, timeout)
        return self.exit_status

    def _wait_until(self, done, timeout: Optional[float]) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._drain()
            if done() or self.conn is None:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            poller = select.poll()
            poller.register(self.conn.fileno(), select.POLLIN)
            poller.poll(None if remaining is None else max(1, int(remaining * 1000)))

    def _drain(self) -> None:
        """Apply every control message already received, without blocking."""
        while self.conn is not None:
            try:
                data = self.conn.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                # Closed without an exit status: the child died (killed, or crashed).
                if self.exit_status is None:
                    self.exit_status = -9
                self._close_conn()
                return
            message = forkprotocol.parse(data)
            if forkprotocol.PID in message:
                self.pid = message[forkprotocol.PID]
            elif forkprotocol.CONTENT_TYPE in message:
                self._content_type = message[forkprotocol.CONTENT_TYPE]
            elif forkprotocol.EXIT in message:
                self.exit_status = message[forkprotocol.EXIT]
                self._close_conn()

    def kill(self) -> None:
        if not self.pid and self.conn is not None:
            try:
                self.wait_for_pid(PID_WAIT)  # a spare is at most one fork away
            except (ForkServerUnavailable, OSError):
                self._close_conn()  # a child that takes the request later finds nobody and does not run it
                return
        if self.pid:
            super().kill()

    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        super().close()
        self._close_conn()


class ForkRunner:
    """Starts one supervisor per request through the fork server at `path`."""

    supervisor = True

    def __init__(self, path: str, server: Optional[ForkServerProcess] = None):
        self.path = path
        self.server = server  # when we own it (standalone app): start it on first use

    def start(self, variables: Mapping[str, str], stdin_fd: Optional[int] = None,
              work_dir: Optional[str] = None) -> ForkedChild:
        """`variables`: the request's own, which the fork server lays over the environment it was
        started with (the watchdog's). `work_dir`: the private directory lent to the supervisor,
        cleared by us afterwards."""
        if self.server is not None:
            self.server.ensure_running()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, forkprotocol.SEND_BUFFER)
            conn.connect(self.path)
        except OSError as err:
            conn.close()
            raise ForkServerUnavailable(f"fork server unavailable ({err.strerror or err})") from None
        body_read, body_write = (stdin_fd, None) if stdin_fd is not None else os.pipe()
        out_read, out_write = os.pipe()
        child = ForkedChild(conn, body_write, out_read)
        try:
            # The pid arrives later, as an event: nothing needs it unless the invocation is killed.
            forkprotocol.send_request(conn, variables, work_dir, body_read, out_write)
        except BaseException as err:
            child.close()
            if isinstance(err, OSError):
                raise ForkServerUnavailable(f"fork server unavailable ({err.strerror or err})") from None
            raise
        finally:
            if stdin_fd is None:
                os.close(body_read)
            os.close(out_write)
        return child
