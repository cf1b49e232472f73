"""The fork server: a single-threaded, pre-imported process that forks one supervisor per request.

Starting `supervisor` per request costs an interpreter start and its imports
(hundreds of milliseconds); forking from a threaded gunicorn worker is unsafe
(a lock held by another thread stays locked forever in the child). So the
watchdog starts this process once: it imports the supervisor and everything
an invocation uses, freezes the heap for cheap copy-on-write, and then only
accepts requests and forks.

Protocol, over a unix SOCK_SEQPACKET socket in the abstract namespace (no
file to clean up, no path-length limit; only our own user's processes are
served, checked with SO_PEERCRED), where message boundaries are kept and file
descriptors travel with SCM_RIGHTS, so bodies never pass through here:

    client -> server  {"environ": {...}} + fds [stdin read end, stdout write end]
    server -> client  {"pid": N}               right after the fork
    child  -> client  {"content_type": "..."}  before the first response byte
    child  -> client  {"exit": status}         when the invocation is over, before the process exits
    server -> client  {"exit": status}         after reaping the child (the answer when it was killed)
    server -> client  {"error": "..."}         when it could not fork

Run as `python -m watchdog.forkserver SOCKET_NAME` (`@name`: abstract); it prints `ready` on
stdout once it accepts, and exits (killing the sessions of its children) when
its stdin reaches EOF, i.e. when the watchdog that started it is gone.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys
from typing import Dict, List, Optional, Tuple

MAX_MESSAGE = 1 << 20  # the request message carries the child's whole environment
SEND_BUFFER = 4 << 20


def socket_address(name: str) -> str:
    """`@name` is the abstract socket `\\0name` (a NUL cannot travel in a command line)."""
    return "\0" + name[1:] if name.startswith("@") else name


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


# What one invocation imports, loaded once here instead of once per request. Optional ones
# (a module another branch has not landed yet) are skipped.
PRELOAD = (
    "faassupervisor.__main__",
    "faassupervisor.invocation",
    "faassupervisor.script",
    "faassupervisor.response",
    "faassupervisor.mime",
    "faassupervisor.logs",
    "faassupervisor.events.body",
    "faassupervisor.events.storage",
    "faassupervisor.storage.transfer",
    "faassupervisor.storage.providers.local",
    "faassupervisor.config.loader",
    "mimetypes",
)


def preload() -> None:
    """Import what every invocation needs, once, before forking anything."""
    import importlib

    import faassupervisor.__main__  # noqa: F401  (required: the entry point the children call)

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        import mimetypes

        mimetypes.init()  # reads the system's mime.types once, not in every child
        import magic

        magic.from_buffer(b"{}", mime=True)  # loads libmagic's database once, shared by every child
    except Exception:  # no libmagic here: the supervisor reports it where it matters
        pass
    warm_up()


def warm_up() -> None:
    """One throw-away invocation in this process, so that every child starts with what a first
    invocation fills in (lazy imports, compiled patterns, logging setup) already there: each
    child would otherwise redo it, on every request."""
    import io
    import tempfile

    from faassupervisor.__main__ import supervisor_main
    from faassupervisor.invocation import InvocationOptions

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with tempfile.TemporaryDirectory(prefix="fwatchdog-warm-up-") as tmp:
            env = {
                "PATH": os.environ.get("PATH", os.defpath),
                "TMPDIR": tmp,
                "SCRIPT": "dHJ1ZQo=",  # base64 of "true"
                "FUNCTION_CONFIG": "bmFtZTogd2FybS11cApsb2dfbGV2ZWw6IENSSVRJQ0FMCg==",  # name: warm-up, CRITICAL
                "FAAS_SUPERVISOR_CONFIG_DIR": os.path.join(tmp, "config"),
                "FAAS_SUPERVISOR_STORAGE_DIR": os.path.join(tmp, "storage"),
                "FAAS_SUPERVISOR_CACHE_DIR": os.path.join(tmp, "cache"),
            }
            supervisor_main([], env, io.BytesIO(b'{"warm": "up"}'), io.BytesIO(),
                            InvocationOptions(logs_in_response=False))
    except Exception as err:  # only an optimisation: serve anyway
        sys.stderr.write(f"fork server: warm-up invocation failed ({type(err).__name__}: {err})\n")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class ForkServer:
    """Accepts requests and hands each to a child; keeps one child forked in advance (the spare).

    The spare has already done what every child does before it can work (fork, setsid, signal
    and descriptor hygiene), so a request only waits for the hand-over; the next spare is
    forked while the current child runs.
    """

    def __init__(self, path: str, parent_fd: int):
        self.path = path
        self.parent_fd = parent_fd
        self.selector = selectors.DefaultSelector()
        self.children: Dict[int, socket.socket] = {}  # pid -> the client connection
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.wake_read, self.wake_write = os.pipe()
        self.spare: Optional[Tuple[int, socket.socket]] = None  # (pid, our end of its socket)
        self.spares = True  # keep a spare; off after a spare failed
        self.running = True

    def serve(self) -> None:
        self.listener.bind(self.path)
        self.listener.listen(256)
        self.listener.setblocking(False)
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        # A handler (even a no-op) makes SIGCHLD write to the wakeup fd.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Signals sent to the whole process group (Ctrl-C, `timeout`) reach us too: the watchdog
        # decides when invocations end, and stops us by closing our stdin.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector.register(self.listener, selectors.EVENT_READ, self.accept)
        self.selector.register(self.wake_read, selectors.EVENT_READ, self.reap)
        self.selector.register(self.parent_fd, selectors.EVENT_READ, self.parent_readable)
        _become_subreaper()
        gc.collect()
        gc.freeze()  # keep the pre-imported heap out of the collector: children share it untouched
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        # From now on stdout is the container log, like stderr: nothing a child prints may
        # land in the pipe the watchdog stopped reading.
        os.dup2(2, 1)
        self.fork_spare()
        while self.running:
            for key, _events in self.selector.select():
                key.data(key.fileobj)
        self.shutdown()

    # ---- events

    def accept(self, listener) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if not _same_user(conn):
            conn.close()
            return
        conn.setblocking(True)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.selector.register(conn, selectors.EVENT_READ, self.request)

    def request(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        try:
            data, fds = _receive(conn, 2)
        except OSError:
            conn.close()
            return
        if not data or len(fds) != 2:
            _close_all(fds)
            conn.close()
            return
        try:
            pid = self.hand_over(data, fds, conn)
        except (ValueError, OSError) as err:
            _send(conn, {"error": f"fork server: {err}"})
            conn.close()
            return
        finally:
            _close_all(fds)  # the child has its own copies now
        self.children[pid] = conn
        _send(conn, {"pid": pid})
        if self.spare is None and self.spares:
            self.fork_spare()  # for the next request, while this one runs

    def hand_over(self, data: bytes, fds: List[int], conn: socket.socket) -> int:
        """Give the request to the spare (or, if there is none, to a child forked now); its pid."""
        spare, self.spare = self.spare, None
        if spare is not None:
            pid, link = spare
            try:
                socket.send_fds(link, [data], [fds[0], fds[1], conn.fileno()])
                return pid
            except OSError:
                pass  # it died meanwhile: reaped as an unknown child; fork one now instead
            finally:
                link.close()
        message = json.loads(data)
        pid = os.fork()
        if pid == 0:
            self.become_child(conn)
            _run_child(message, fds, conn)  # never returns
        return pid

    def fork_spare(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        try:
            pid = os.fork()
        except OSError as err:
            sys.stderr.write(f"fork server: cannot fork a spare child ({err}); forking per request\n")
            ours.close()
            theirs.close()
            return
        if pid == 0:
            ours.close()
            self.become_child(theirs)
            _wait_and_run(theirs)  # never returns
        theirs.close()
        self.spare = (pid, ours)

    def reap(self, wake_read) -> None:
        try:
            os.read(self.wake_read, 4096)
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and self.spare[0] == pid:
                # A spare never exits on its own while we run: something is wrong with forking
                # ahead, so fork per request from now on rather than loop on failing spares.
                sys.stderr.write(f"fork server: spare child exited ({status}); forking per request\n")
                self.spare[1].close()
                self.spare = None
                self.spares = False
                continue
            conn = self.children.pop(pid, None)
            if conn is not None:  # else an adopted orphan: reaped so it leaves no zombie
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()

    def parent_readable(self, fd) -> None:
        try:
            data = os.read(self.parent_fd, 4096)
        except OSError:
            data = b""
        if not data:
            self.stop()

    def stop(self) -> None:
        self.running = False

    def shutdown(self) -> None:
        """The watchdog is gone: leave no invocation behind."""
        from faassupervisor import process_tree

        if self.spare is not None:
            self.spare[1].close()  # EOF: the spare exits
            self.children[self.spare[0]] = None
            self.spare = None
        for pid in list(self.children):
            process_tree.kill_session(pid)
        for pid, conn in self.children.items():
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            if conn is not None:
                conn.close()
        process_tree.reap_children()

    # ---- in a forked child

    def become_child(self, keep: socket.socket) -> None:
        """What every child does first: its own session, default signals, none of our descriptors."""
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            for key in list(self.selector.get_map().values()):
                if key.fileobj is not keep and isinstance(key.fileobj, socket.socket):
                    key.fileobj.close()
            self.selector.close()
            for conn in self.children.values():
                if conn is not None and conn is not keep:
                    conn.close()
            if self.spare is not None:
                self.spare[1].close()
            self.listener.close()
            for fd in (self.wake_read, self.wake_write, self.parent_fd):
                os.close(fd)
        except BaseException as err:  # noqa: B902 - nothing may escape a forked child
            _die(err)


def _wait_and_run(link: socket.socket) -> None:
    """The spare: wait for a request from the server, run it, exit."""
    try:
        data, fds = _receive(link, 3)
        link.close()
        if not data or len(fds) != 3:
            os._exit(0)  # the server is gone (or sent nonsense): nothing to do
        conn = socket.socket(fileno=fds[2])
        message = json.loads(data)
    except BaseException as err:  # noqa: B902
        _die(err)
    _run_child(message, fds[:2], conn)


def _run_child(message: dict, fds: List[int], conn: socket.socket) -> None:
    status = 1
    try:
        status = run_supervisor(message, fds, conn)
    except BaseException as err:  # noqa: B902 - nothing may escape a forked child
        _report(err)
    finally:
        os._exit(status)


def _die(err: BaseException) -> None:
    _report(err)
    os._exit(1)


def _report(err: BaseException) -> None:
    try:
        sys.stderr.write(f"fork server child: {type(err).__name__}: {err}\n")
        sys.stderr.flush()
    except BaseException:  # noqa: B902
        pass


def _receive(sock: socket.socket, max_fds: int) -> Tuple[bytes, List[int]]:
    """One whole message and its descriptors; the size is peeked first (no fixed 1 MiB buffer per call)."""
    size = sock.recv_into(bytearray(1), 1, socket.MSG_PEEK | socket.MSG_TRUNC)
    data, fds, _flags, _addr = socket.recv_fds(sock, max(1, min(size, MAX_MESSAGE)), max_fds,
                                               socket.MSG_CMSG_CLOEXEC)
    return data, fds


def _close_all(fds: List[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def run_supervisor(message: dict, fds: List[int], conn: socket.socket) -> int:
    """The child's whole life: one `supervisor_main` call on the passed pipes."""
    from faassupervisor.__main__ import supervisor_main
    from faassupervisor.invocation import InvocationOptions

    def announce(content_type: str) -> None:
        _send(conn, {"content_type": content_type})

    stdin = os.fdopen(fds[0], "rb")
    stdout = os.fdopen(fds[1], "wb")
    options = InvocationOptions(logs_in_response=False, on_content_type=announce)
    status = int(supervisor_main(argv=[], environ=message["environ"], stdin=stdin, stdout=stdout, options=options))
    # The invocation is over (the supervisor has cleaned up after itself): tell the client now
    # rather than after this process is torn down and reaped, which takes milliseconds.
    stdout.close()
    _send(conn, {"exit": status})
    return status


def _same_user(conn: socket.socket) -> bool:
    """Only processes of our own user may ask for a fork (what a 0700 directory would ensure)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.send(encode(message))
    except OSError:
        pass  # the client went away (timeout, disconnect): it no longer cares


def _become_subreaper() -> None:
    from faassupervisor import process_tree

    process_tree.become_subreaper()


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m watchdog.forkserver SOCKET_PATH\n")
        return 2
    try:
        preload()
    except Exception as err:  # one line, never a traceback: the watchdog reports it
        sys.stderr.write(f"fork server: cannot import the supervisor: {type(err).__name__}: {err}\n")
        return 1
    # The watchdog holds the other end of our stdin: EOF there means it is gone. Move it off
    # fd 0 so that children, which must not hold it, get /dev/null as their stdin.
    parent_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    ForkServer(socket_address(argv[0]), parent_fd=parent_fd).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
