"""One synchronous invocation over HTTP: body into the child, its output back, the status decided once.

The body is copied to the child as it arrives (a feeder thread, unless it is
small enough to fit the pipe at once) and the output is read as produced.
Up to `RESPONSE_BUFFER` bytes of output are held until the child exits, so
the status is exact (200/500/400) for every response of that size. A
larger response is streamed as it is produced, with status 200 sent first; if
the child then fails or times out, the connection is cut instead of ending
the body cleanly, so the client sees an error, never a silently truncated
success. Memory per request is bounded by `RESPONSE_BUFFER`, whatever the
payload size.

Every path ends in `Run.finish`: the child's session killed if still alive,
its pipes closed, its private TMPDIR removed, the completion callback called
once with the final status.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import selectors
import socket
import threading
import time
from typing import IO, BinaryIO, Callable, Iterator, List, Optional, Tuple, Union

from faassupervisor import process_tree
from fwatchdog.child import Child, Runner, RunnerUnavailable
from fwatchdog.config import WatchdogConfig
from fwatchdog.request_environ import cgi_variables, marshal_request, request_variables
from fwatchdog.shared_state import SharedState
from fwatchdog.status import Outcome, outcome_of_exit
from fwatchdog.tempdirs import TempDirPool, TempDirUnavailable

log = logging.getLogger(__name__)

RESPONSE_BUFFER = 1 << 20  # output held back until exit, so that its status is exact
CHUNK = 256 * 1024
SMALL_BODY = 64 * 1024  # fits an empty pipe: written at once, no feeder thread
KILL_WAIT = 10.0  # how long a killed session may take to be reaped
LEFTOVER_GRACE = 0.1  # after the process exits, how long its output may stay open before we kill the holders
LINGER = 1.0  # how long we keep draining a body the child did not want, to keep the connection usable
TEXT = "text/plain; charset=utf-8"


@dataclasses.dataclass
class IncomingRequest:
    """What the pipeline needs of an HTTP request (built by the Flask view)."""

    method: str
    path: str
    query: str
    headers: List[Tuple[str, str]]
    content_type: str
    content_length: Optional[int]
    chunked: bool
    stream: IO[bytes]
    socket: Optional[socket.socket] = None  # gunicorn's client socket, for read/write timeouts


@dataclasses.dataclass
class Reply:
    """What the Flask view sends back."""

    outcome: Outcome
    body: Union[bytes, Iterator[bytes]]
    content_type: str = TEXT
    close_connection: bool = False
    status: Optional[int] = None  # when it differs from the outcome's (a streamed 200 that failed)

    @property
    def http_status(self) -> int:
        return self.status or self.outcome.status


def message_reply(outcome: Outcome, message: str, close: bool = False) -> Reply:
    """A reply written by the watchdog itself: one line of text."""
    return Reply(outcome, (message.rstrip("\n") + "\n").encode(), TEXT, close)


class BodyError(Exception):
    """Reading the request body failed; carries the outcome to answer with."""

    def __init__(self, outcome: Outcome, message: str):
        super().__init__(message)
        self.outcome = outcome


class Invoker:
    """Runs invocations with one runner (exec or fork server) and one config."""

    def __init__(self, config: WatchdogConfig, runner: Runner, live: "LiveChildren", temp_dirs: TempDirPool,
                 shared: Optional[SharedState] = None):
        self.config = config
        self.runner = runner
        self.live = live
        self.temp_dirs = temp_dirs
        self.shared = shared  # tells whether the arbiter gave up draining (and killed what ran)

    # ---- shared by /run and /job

    def body_too_large(self, request: IncomingRequest) -> Optional[Reply]:
        limit = self.config.max_body_size
        if limit and request.content_length is not None and request.content_length > limit:
            return self.too_large_reply()
        return None

    def too_large_reply(self) -> Reply:
        return message_reply(
            Outcome.BODY_TOO_LARGE,
            f"request body larger than max_body_size ({self.config.max_body_size} bytes)",
            close=True,
        )

    def variables_for(self, request: IncomingRequest, temp_dir: str) -> dict:
        """The request's own variables, which the runner lays over the watchdog's environment."""
        cgi = {}
        if self.config.cgi_headers:
            cgi = cgi_variables(request.headers, request.method, request.path, request.query, request.chunked)
        return request_variables(cgi, temp_dir)

    def new_temp_dir(self) -> str:
        return self.temp_dirs.acquire()

    def release_temp_dir(self, path: str) -> None:
        self.temp_dirs.release(path)

    def temp_dir_reply(self, err: Exception) -> Reply:
        """TMPDIR failed us: one line naming it, 500 (a full disk too: see docs/reliability.md)."""
        log.error("%s", err)
        return message_reply(Outcome.FAILED, f"error: {err}", close=True)

    def read_body(self, request: IncomingRequest, limit: int) -> bytes:
        """The whole body (small bodies, marshal_request); raises BodyError."""
        return b"".join(read_chunks(request, limit))

    # ---- synchronous

    def invoke(self, request: IncomingRequest, finished: Callable[[int], None]) -> Reply:
        """Run one invocation; `finished(status)` is called exactly once, when it is really over."""
        reply = self.body_too_large(request)
        if reply is not None:
            finished(reply.http_status)
            return reply
        set_timeout(request.socket, self.config.read_timeout)
        try:
            temp_dir = self.new_temp_dir()
        except TempDirUnavailable as err:
            reply = self.temp_dir_reply(err)
            finished(reply.http_status)
            return reply
        try:
            body = None
            if self.config.marshal_request:
                body = marshal_request(self.read_body(request, self.config.max_body_size), request.headers)
            elif not request.chunked and (request.content_length or 0) <= SMALL_BODY:
                body = self.read_body(request, self.config.max_body_size)
            child = self.runner.start(self.variables_for(request, temp_dir), work_dir=temp_dir)
        except BodyError as err:
            self.release_temp_dir(temp_dir)
            finished(err.outcome.status)
            return message_reply(err.outcome, str(err), close=True)
        except RunnerUnavailable as err:
            self.release_temp_dir(temp_dir)
            log.error("%s", err)
            finished(Outcome.UNAVAILABLE.status)
            return message_reply(Outcome.UNAVAILABLE, str(err))
        except Exception as err:
            self.release_temp_dir(temp_dir)
            log.error("cannot start %s: %s", " ".join(self.config.fprocess), err)
            finished(Outcome.FAILED.status)
            return message_reply(Outcome.FAILED, f"cannot start the function: {err}")
        run = Run(self, request, child, temp_dir, finished)
        return run.execute(body)


class LiveChildren:
    """The invocations running in this process, so a stopping worker can kill them all."""

    def __init__(self):
        self._lock = threading.Lock()
        self._children = set()

    def add(self, child: Child) -> None:
        with self._lock:
            self._children.add(child)

    def discard(self, child: Child) -> None:
        with self._lock:
            self._children.discard(child)

    def kill_all(self) -> int:
        with self._lock:
            children = list(self._children)
        for child in children:
            child.kill()
        return len(children)


class Run:
    """The pipe work of one started child."""

    def __init__(self, invoker: Invoker, request: IncomingRequest, child: Child, temp_dir: str,
                 finished: Callable[[int], None]):
        self.invoker = invoker
        self.config = invoker.config
        self.request = request
        self.child = child
        self.temp_dir = temp_dir
        self.finished = finished
        self.started = time.monotonic()
        timeout = self.config.exec_timeout
        self.deadline = self.started + timeout if timeout > 0 else None
        self.buffer = bytearray()
        self.eof = False
        self.exited_at: Optional[float] = None
        self.leftovers_killed = False
        self.feeder: Optional[BodyFeeder] = None
        self.selector = _selector()
        self.selector.register(child.stdout, selectors.EVENT_READ)
        for fd in child.event_fds():
            self.selector.register(fd, selectors.EVENT_READ)
        self.done = False
        invoker.live.add(child)

    # ---- phases

    def execute(self, body: Optional[bytes]) -> Reply:
        try:
            if body is not None:
                self.write_small_body(body)
            else:
                self.feeder = BodyFeeder(self.request, self.child, self.config.max_body_size)
                self.feeder.start()
            state = self.collect(RESPONSE_BUFFER)
            if state == "streaming":
                return self.stream()
            return self.buffered_reply(state)
        except RunnerUnavailable as err:  # the fork server died before forking ours
            log.error("%s", err)
            self.finish(Outcome.UNAVAILABLE.status)
            return message_reply(Outcome.UNAVAILABLE, str(err))
        except BaseException:
            self.finish(Outcome.FAILED.status)
            raise

    def write_small_body(self, body: bytes) -> None:
        stdin = self.child.stdin
        assert stdin is not None  # started without stdin_fd (Invoker.invoke): the body pipe is ours
        try:
            _write_all(stdin, body)
        except BrokenPipeError:
            pass  # the child does not read its input: its business
        self.child.close_stdin()

    def collect(self, limit: Optional[int]) -> str:
        """Read output until the child is done ("exited"), the buffer is full ("streaming"),
        the deadline passes ("timeout"), or the body feeder failed ("body")."""
        child = self.child
        while True:
            if self.feeder is not None and self.feeder.error is not None:
                return "body"
            if self.eof and child.exit_status is not None:
                return "exited"
            if self.eof and not child.event_fds():
                if child.wait(self.remaining()) is None:
                    return "timeout"
                continue
            if limit is not None and len(self.buffer) >= limit:
                return "streaming"
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                return "timeout"
            if child.exit_status is not None and not self.eof:
                # It exited but its output is still open: something it left running holds it.
                # Give the pipe a moment to drain, then kill the leftovers, as nothing of an
                # invocation may outlive it (classic would wait for them until exec_timeout).
                if self.exited_at is None:
                    self.exited_at = time.monotonic()
                grace = self.exited_at + LEFTOVER_GRACE - time.monotonic()
                if grace <= 0:
                    if not self.leftovers_killed:
                        self.leftovers_killed = True
                        process_tree.kill_session(child.pid)
                else:
                    remaining = grace if remaining is None else min(grace, remaining)
            for key, _ in self.selector.select(remaining):
                fd = key.fd
                if fd == child.stdout:
                    data = os.read(fd, CHUNK)
                    if data:
                        self.buffer += data
                    else:
                        self.eof = True
                        self.selector.unregister(fd)
                else:
                    try:
                        child.handle_event(fd)
                    finally:
                        if fd not in child.event_fds():
                            self.selector.unregister(fd)

    def take_output(self) -> bytes:
        """The output collected since the last take; the buffer starts empty again."""
        output, self.buffer = bytes(self.buffer), bytearray()
        return output

    def remaining(self) -> Optional[float]:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def final_outcome(self, state: str) -> Tuple[Outcome, str]:
        """The outcome, and the message the watchdog answers with when it speaks itself."""
        if state == "body" or (self.feeder is not None and self.feeder.error is not None):
            assert self.feeder is not None and self.feeder.error is not None  # "body": collect saw it so
            self.child.kill()
            return self.feeder.error.outcome, str(self.feeder.error)
        if state == "timeout":
            self.child.kill()
            return Outcome.TIMED_OUT, (
                f"exec_timeout of {_seconds(self.config.exec_timeout)} exceeded: the process tree was killed"
            )
        status = self.child.exit_status
        shared = self.invoker.shared
        if status is not None and status < 0 and shared is not None and shared.drain_expired:
            return Outcome.UNAVAILABLE, (
                f"shutting down: write_timeout of {_seconds(self.config.write_timeout)} after SIGTERM passed;"
                " the process tree was killed"
            )
        assert status is not None  # the state left is "exited": collect saw the exit status
        return outcome_of_exit(status, self.invoker.runner.supervisor), ""

    def buffered_reply(self, state: str) -> Reply:
        outcome, message = self.final_outcome(state)
        close = self.stop_feeder() or state == "body"
        if message:
            self.finish(outcome.status)
            return message_reply(outcome, message, close=close)
        body = self.take_output()
        self.log_result(outcome, len(body))
        reply = Reply(outcome, body, self.content_type(body), close_connection=close)
        self.finish(outcome.status)
        set_timeout(self.request.socket, self.config.write_timeout)
        return reply

    def stream(self) -> Reply:
        if self.feeder is None or not self.feeder.is_alive():
            set_timeout(self.request.socket, self.config.write_timeout)
        first = self.take_output()
        return Reply(Outcome.SUCCEEDED, self._stream_body(first), self.content_type(first))

    def _stream_body(self, first: bytes) -> Iterator[bytes]:
        sent = len(first)
        status = Outcome.SUCCEEDED.status
        try:
            yield first
            while True:
                state = self.collect(1)
                if self.buffer:
                    chunk = self.take_output()
                    sent += len(chunk)
                    yield chunk
                    continue
                if state == "streaming":
                    continue
                break
            outcome, message = self.final_outcome(state)
            self.stop_feeder()
            self.log_result(outcome, sent)
            status = outcome.status
            if outcome is not Outcome.SUCCEEDED:
                # The 200 is already on the wire: cut the connection rather than end the body
                # cleanly, so the client cannot mistake a partial response for a success.
                log.warning("%s %s: %s after %d streamed bytes; connection cut",
                            self.request.method, self.request.path, message or outcome.name, sent)
                _abort(self.request.socket)
        except GeneratorExit:
            log.info("%s %s: client went away; killing the invocation", self.request.method, self.request.path)
            self.child.kill()
            status = 499  # nginx's "client closed request", for the metrics only
            raise
        finally:
            self.finish(status)

    # ---- helpers

    def content_type(self, first_bytes: bytes) -> str:
        if self.config.content_type:
            return self.config.content_type
        if self.invoker.runner.supervisor:
            return self.child.content_type or TEXT
        if self.request.content_type:
            return self.request.content_type  # classic echoes the caller's Content-Type
        return _sniff(first_bytes)

    def stop_feeder(self) -> bool:
        """Make sure nobody reads the request body any more; True when some of it was left unread
        (the connection must then be closed, as the next request would start mid-body)."""
        feeder = self.feeder
        if feeder is None:
            return False
        feeder.join(LINGER)  # usually it is just seeing the end of the body, or draining what is left
        if feeder.is_alive():
            feeder.abandon()
            if self.request.socket is not None:
                try:
                    self.request.socket.shutdown(socket.SHUT_RD)  # wakes it out of its read
                except OSError:
                    pass
            feeder.join(KILL_WAIT)
        return not feeder.complete

    def log_result(self, outcome: Outcome, size: int) -> None:
        if self.config.write_debug:
            log.debug("%s %s: exit %s, %s, %d bytes in %.3fs", self.request.method, self.request.path,
                      self.child.exit_status, outcome.status, size, time.monotonic() - self.started)

    def finish(self, status: int) -> None:
        if self.done:
            return
        self.done = True
        child = self.child
        try:
            if child.exit_status is None:
                child.kill()
                child.wait(KILL_WAIT)
            if self.feeder is not None and self.feeder.is_alive():
                self.feeder.abandon()
        finally:
            self.selector.close()
            child.close()
            self.invoker.live.discard(child)
            self.invoker.release_temp_dir(self.temp_dir)
            self.finished(status)


class BodyFeeder(threading.Thread):
    """Copies the request body into the child's stdin as it arrives, enforcing the size limit."""

    def __init__(self, request: IncomingRequest, child: Child, limit: int):
        super().__init__(name="body-feeder", daemon=True)
        self.request = request
        self.child = child
        self.limit = limit
        self.error: Optional[BodyError] = None
        self.complete = False  # the whole body was read from the client
        self._abandoned = False
        assert child.stdin is not None  # started without stdin_fd (Invoker.invoke): the body pipe is ours
        self._fd: int = child.stdin
        child.stdin = None  # ours now: closing it is the end-of-body signal

    def abandon(self) -> None:
        self._abandoned = True

    def run(self) -> None:
        draining = False  # the child closed its stdin: read the rest of the body and drop it
        try:
            for chunk in read_chunks(self.request, self.limit):
                if self._abandoned:
                    return
                if draining:
                    continue
                try:
                    _write_all(self._fd, chunk)
                except BrokenPipeError:
                    draining = True
            self.complete = True
        except BodyError as err:
            if not self._abandoned and not draining:
                self.error = err
                self.child.kill()  # wakes the collector: the child's output ends
        except Exception as err:  # the client went away mid-body
            if not self._abandoned and not draining:
                self.error = BodyError(Outcome.BAD_INPUT, f"request body could not be read: {err}")
                self.child.kill()
        finally:
            os.close(self._fd)


def read_chunks(request: IncomingRequest, limit: int) -> Iterator[bytes]:
    """The body in pieces; BodyError on read timeout, size limit or a short body."""
    total = 0
    while True:
        try:
            chunk = request.stream.read(CHUNK)
        except socket.timeout:
            raise BodyError(Outcome.TIMED_OUT, "read_timeout exceeded while reading the request body") from None
        if not chunk:
            break
        total += len(chunk)
        if limit and total > limit:
            raise BodyError(Outcome.BODY_TOO_LARGE, f"request body larger than max_body_size ({limit} bytes)")
        yield chunk
    if request.content_length is not None and total < request.content_length:
        raise BodyError(Outcome.BAD_INPUT, "request body shorter than its Content-Length")


def _selector() -> selectors.BaseSelector:
    # poll(2) needs no descriptor of its own, unlike epoll: cheaper for the two or three we watch.
    return selectors.PollSelector() if hasattr(selectors, "PollSelector") else selectors.DefaultSelector()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def set_timeout(sock: Optional[socket.socket], seconds: float) -> None:
    if sock is not None:
        try:
            sock.settimeout(seconds if seconds > 0 else None)
        except OSError:
            pass


def _abort(sock: Optional[socket.socket]) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _sniff(data: bytes) -> str:
    """Go's DetectContentType, reduced to what matters here: text or not."""
    head = data[:512]
    if b"\0" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # a character cut at the 512-byte boundary is still text
            return "application/octet-stream"
    return TEXT
