"""The fork server: a single-threaded, pre-imported process that forks one supervisor per request.

Starting `supervisor` per request costs an interpreter start and its imports
(hundreds of milliseconds); forking from a threaded gunicorn worker is unsafe
(a lock held by another thread stays locked forever in the child). So the
watchdog starts this process once: it imports the supervisor and everything
an invocation uses, freezes the heap for cheap copy-on-write, and then only
forks.

It never touches a request itself. It keeps `SPARES` children forked in
advance, each blocked in `accept()` on the listening socket: the kernel hands
each connection to one of them, which tells the server it was taken (its pid,
on a pipe) and serves the request, while the server forks its replacement.
Per request the server only reads that pipe, forks and reaps, so the work it
does, and the pages it dirties (each one a copy-on-write fault while children
share it), stay few: they were most of what a request cost here.

Requests arrive on a unix socket, one connection each, in the fork protocol
(`fwatchdog.forkprotocol`), bodies and responses as pipes passed along with
them: they never pass through here.

Run as `python -m fwatchdog.forkserver SOCKET_NAME` (`@name`: abstract); it prints `ready` on
stdout once it accepts (followed by the directory its remaining warm-ups use, which the
watchdog removes should the server die), and exits (killing every process below it, scripts in
sessions of their own included) when its stdin reaches EOF, i.e. when the
watchdog that started it is gone. Spares die with it (PR_SET_PDEATHSIG), so
none keeps the socket name bound. It also watches each client (a pidfd per
gunicorn worker): when one dies, its invocations are killed, as nobody is left
to answer.
"""

from __future__ import annotations

import gc
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from faassupervisor import process_tree
from fwatchdog import forkprotocol
from fwatchdog.request_environ import child_environ

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_watchdog_forkserver.py
    from typing import Dict, List, Mapping, Optional, Set, Tuple

SPARES = 2  # children waiting in accept(): a burst of requests need not wait for a fork
SHUTDOWN_WAIT = 5.0  # how long a stopping server waits for the processes it killed to be gone

_TAKEN = struct.Struct("ii")  # a spare's pid and its client's, on the `taken` pipe


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


WARM_UPS_BEFORE_READY = 1  # the rest run once the server is ready, while it is idle (ForkServer)
WARM_UP_DELAY = 1.0  # seconds after ready: the watchdog's own start (its imports) goes first
WARM_UP_PREFIX = "fwatchdog-warm-up-"  # their directory in TMPDIR, beside the watchdog's lent ones


def preload() -> Optional[str]:
    """Import what every invocation needs, once, before forking anything; returns the directory
    the warm-ups left to run after `ready` work in (None: they failed, none are left).

    The imports skip the lock-repairing at-fork hooks (`fwatchdog.forkhooks`): this process
    never has a second thread, and those hooks were half the page faults of a bare fork.
    The service config is parsed in a child meanwhile, and only one warm-up invocation runs
    before the server is ready (a cold pod's first request waits for all of this)."""
    from faassupervisor import workdir
    from fwatchdog.forkhooks import lock_hooks_skipped

    with lock_hooks_skipped():
        _import_and_load()
    parsing = _parse_in_a_child(os.environ)
    try:
        warm_dir = workdir.make(os.environ.get("TMPDIR"), prefix=WARM_UP_PREFIX)
    except OSError as err:
        sys.stderr.write(f"fork server: no directory for the warm-up invocations ({err})\n")
        warm_dir = None
    if warm_dir is not None and not warm_up(WARM_UPS_BEFORE_READY, warm_dir):
        workdir.remove(warm_dir)
        warm_dir = None
    _take_parsed(parsing)
    _read_settings(os.environ)
    return warm_dir


def _import_and_load() -> None:
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


def load_service_config(environ) -> None:
    """Parse the service's own configuration here, once: the supervisor keeps what a process has
    parsed, so every child finds it ready instead of reading and decoding it per request. Only
    settings are read (no script runs); a bad configuration is left for each request to report."""
    _cache_in_a_child(environ)
    _read_settings(environ)


def _read_settings(environ) -> None:
    from faassupervisor.config.settings import RuntimeSettings

    try:
        RuntimeSettings.from_environ(environ)
    except Exception:  # noqa: BLE001 - reported by every invocation, one line each
        pass


def _cache_in_a_child(environ) -> None:
    """Parse `environ`'s service config in a throw-away child, which hands the document over on a
    pipe as JSON (`yaml_cache.handover`; never through the disk, as it may hold secrets): this
    process never imports PyYAML. PyYAML's modules and libraries (~1.2 MB, 36 mappings) would
    otherwise be copied by every fork and unmapped by every child's exit, for nothing: no child
    parses YAML. Where no child can be forked, this process parses the YAML itself, as before."""
    _take_parsed(_parse_in_a_child(environ))


def _parse_in_a_child(environ) -> Optional[Tuple[int, int]]:
    """(pid, read end of its pipe) of a child parsing `environ`'s service config; None: no child."""
    from faassupervisor.config import yaml_cache

    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        try:
            os.close(read_end)
            _read_settings(environ)
            with open(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(yaml_cache.handover())
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def _take_parsed(child: Optional[Tuple[int, int]]) -> None:
    """What the child of `_parse_in_a_child` parsed, remembered here (`yaml_cache.remember`)."""
    if child is None:
        return
    from faassupervisor.config import yaml_cache

    pid, read_end = child
    with open(read_end, encoding="utf-8") as pipe:
        handed = pipe.read()
    os.waitpid(pid, 0)
    yaml_cache.remember(handed)


WARM_UPS = 10  # CPython quickens a function's bytecode in place after 8 calls
WARM_UP_CONFIG = "name: warm-up\nlog_level: DEBUG\n"
WARM_UP_DOCUMENT = {"name": "warm-up", "log_level": "DEBUG"}  # WARM_UP_CONFIG, parsed


def warm_up(runs: int = WARM_UPS, parent: Optional[str] = None) -> bool:
    """Throw-away invocations in this process, so that every child starts with what invocations
    fill in (lazy imports, compiled patterns, quickened and specialised bytecode) already there:
    each child would otherwise redo it, and write to the pages it is in, on every request.

    They take the path a request takes (config and script from files, log lines formatted, a lent
    work dir cleared after each), with a script that does nothing and their log lines discarded."""
    from faassupervisor import workdir
    from faassupervisor.__main__ import supervisor_main
    from faassupervisor.invocation import InvocationOptions

    tmp = None
    stderr = sys.stderr
    try:
        tmp = workdir.make(parent or os.environ.get("TMPDIR"))
        config, lent = os.path.join(tmp, "config"), os.path.join(tmp, "lent")
        for folder in (config, lent):
            os.mkdir(folder, 0o700)
        for name, text in (("script.sh", "true\n"), ("function_config.yaml", WARM_UP_CONFIG)):
            with open(os.path.join(config, name), "w") as handle:
                handle.write(text)
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "TMPDIR": lent,
            "FAAS_SUPERVISOR_CONFIG_DIR": config,
            "FAAS_SUPERVISOR_STORAGE_DIR": os.path.join(tmp, "storage"),
            "FAAS_SUPERVISOR_CACHE_DIR": os.path.join(tmp, "cache"),
        }
        # Its config is known: handed over as parsed, with no child forked to parse the YAML (a
        # fork and a PyYAML import on the way to ready).
        from faassupervisor.config import yaml_cache

        yaml_cache.remember(json.dumps([[WARM_UP_CONFIG, WARM_UP_DOCUMENT]]))
        logged = sys.stderr = io.StringIO()  # the supervisor's log lines: shown only if a run fails
        for _ in range(runs):
            status = supervisor_main([], env, io.BytesIO(b'{"warm": "up"}'), io.BytesIO(),
                                     # signals_handled: serve() sets this process's SIGTERM/SIGINT
                                     # handler; work_dir: lent, as the watchdog lends one to every child
                                     InvocationOptions(logs_in_response=False, signals_handled=True, work_dir=lent))
            workdir.clear(lent)
            if status:
                last = (logged.getvalue().strip().splitlines() or [""])[-1]
                raise RuntimeError(f"exit status {status}: {last}")
            logged.seek(0)
            logged.truncate()
    except Exception as err:  # only an optimisation: serve anyway
        stderr.write(f"fork server: warm-up invocation failed ({type(err).__name__}: {err})\n")
        return False
    finally:
        sys.stderr = stderr
        if tmp is not None:
            workdir.remove(tmp)
    return True


class ForkServer:
    """Keeps `spares` children waiting in `accept()`, replaces each one as it is taken, reaps."""

    def __init__(self, path: str, parent_fd: int, environ: Mapping[str, str], spares: int = SPARES,
                 warm_dir: Optional[str] = None):
        self.path = path
        self.environ = environ  # the watchdog's: each request's variables are laid over it
        self.parent_fd = parent_fd
        self.target = spares
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.taken_read, self.taken_write = os.pipe()  # a spare writes its pid here once it has a connection
        self.wake_read, self.wake_write = os.pipe()
        self.spares: Set[int] = set()
        self.running: Dict[int, int] = {}  # invocation pid -> its client's pid (a gunicorn worker)
        self.clients: Dict[int, int] = {}  # pidfd -> client pid, readable once that client is gone
        self.poller = select.poll()
        self.failures = 0  # spares in a row that died before serving anything
        self.retry_at = 0.0
        self.pid = os.getpid()
        self.serving = True
        self.warm_dir = warm_dir  # where the warm-ups left run (`preload`); None: none are left
        self.warm_ups_left = WARM_UPS - WARM_UPS_BEFORE_READY if warm_dir else 0

    def serve(self) -> None:
        self.listener.bind(self.path)
        self.listener.listen(256)
        for fd in (self.wake_read, self.wake_write, self.taken_read):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake_write)
        # A handler (even a no-op) makes SIGCHLD write to the wakeup fd.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Signals sent to the whole process group (Ctrl-C, `timeout`) reach us too, and are
        # ignored: the watchdog decides when invocations end, and stops us by closing our stdin.
        # In our children the same handler is the supervisor's own (cleanup, then exit), set
        # here once instead of in every child.
        from faassupervisor.__main__ import terminate_forked_children

        on_signal = terminate_forked_children(self.pid)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        process_tree.become_subreaper()
        process_tree.set_parent_death_signal(0)  # loads ctypes' libc here, once, rather than in every spare
        poller = self.poller
        for fd in (self.taken_read, self.wake_read, self.parent_fd):
            poller.register(fd, select.POLLIN)
        gc.collect()
        gc.freeze()  # keep the pre-imported heap out of the collector: children share it untouched
        # The watchdog removes the warm-ups' directory if we die before we do (`ForkServerProcess`).
        sys.stdout.write(f"ready {self.warm_dir}\n" if self.warm_dir else "ready\n")
        sys.stdout.flush()
        # From now on stdout is the container log, like stderr: nothing a child prints may
        # land in the pipe the watchdog stopped reading.
        os.dup2(2, 1)
        warm_up_at = time.monotonic() + WARM_UP_DELAY
        while self.serving:
            timeout = self.top_up()
            if self.warm_ups_left and timeout is None:
                # nothing else to wait for: warm up then, if nothing happened
                timeout = max(0, int((warm_up_at - time.monotonic()) * 1000))
            events = poller.poll(timeout)
            for fd, _events in events:
                if fd == self.taken_read:
                    self.taken()
                elif fd == self.wake_read:
                    self.reap()
                elif fd in self.clients:
                    self.client_gone(fd)
                else:
                    self.parent_readable()
            if not events and self.warm_ups_left and self.serving and time.monotonic() >= warm_up_at:
                self.warm_up_while_idle()
        self.shutdown()

    def warm_up_while_idle(self) -> None:
        """One of the warm-up invocations left after `preload`: spares forked from then on
        start warmer. None runs while anything else waits (a request, a spare to fork)."""
        self.warm_ups_left -= 1
        if not warm_up(1, self.warm_dir):
            self.warm_ups_left = 0
        if not self.warm_ups_left:
            from faassupervisor import workdir

            assert self.warm_dir is not None  # warm-ups are left only with a warm dir (__init__)
            workdir.remove(self.warm_dir)
            gc.collect()
            gc.freeze()  # what the warm-ups left, out of the collector's sight as the rest

    # ---- events

    def top_up(self) -> Optional[int]:
        """Fork spares up to the target; the poll timeout (ms) until the next try, after a failure."""
        while len(self.spares) < self.target:
            wait = self.retry_at - time.monotonic()
            if wait > 0:
                return int(wait * 1000) + 1
            try:
                pid = os.fork()
            except OSError as err:
                self.spare_failed(f"cannot fork a spare child ({err})")
                continue
            if pid == 0:
                self.become_spare()  # never returns
            self.spares.add(pid)
        return None

    def taken(self) -> None:
        """Spares that got a connection: invocations now."""
        try:
            data = os.read(self.taken_read, 4096)
        except BlockingIOError:
            return
        for pid, client in _TAKEN.iter_unpack(data):  # writes of 8 bytes to a pipe are never split
            self.spares.discard(pid)
            self.running[pid] = client
            if client > 0 and client not in self.clients.values():  # 0: a client in another pid namespace
                self.watch(client)
        self.failures = 0

    def watch(self, client: int) -> None:
        """Learn when `client` dies (a gunicorn worker killed with SIGKILL, say): its invocations
        have nobody to answer and must not run on. One pidfd per client, not per invocation."""
        try:
            pidfd = os.pidfd_open(client)
        except (AttributeError, OSError):  # gone already (or no pidfds here: the worker's own kill applies)
            if not process_tree.stat(client):
                self.kill_invocations_of(client)
            return
        self.clients[pidfd] = client
        self.poller.register(pidfd, select.POLLIN)

    def client_gone(self, pidfd: int) -> None:
        client = self.clients.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        killed = self.kill_invocations_of(client)
        if killed:
            sys.stderr.write(f"fork server: client {client} is gone: killed its {killed} invocation(s)\n")

    def kill_invocations_of(self, client: int) -> int:
        victims = [pid for pid, owner in self.running.items() if owner == client]
        for pid in victims:
            process_tree.kill_descendants(pid)  # while it lives: its orphans are still below it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(victims)

    def reap(self) -> None:
        try:
            os.read(self.wake_read, 4096)
        except BlockingIOError:
            pass
        self.taken()  # first: a spare taken and already done is no failed spare
        process_tree.reap_children(self.child_exited)

    def child_exited(self, pid: int, status: int) -> None:
        if pid in self.spares:
            # A spare does not exit before it is taken: back off, so that spares that cannot
            # start do not turn into a fork loop.
            self.spares.discard(pid)
            self.spare_failed(f"spare child exited ({status}) before serving a request")
        elif self.running.pop(pid, None) is not None and os.WIFSIGNALED(status):
            # Killed (by the watchdog, the OOM killer, anyone): whatever its script left
            # running was re-parented to us, the nearest subreaper. Nothing else is our child.
            self.kill_orphans()
        # else an adopted orphan: reaped so it leaves no zombie

    def spare_failed(self, why: str) -> None:
        self.failures += 1
        delay = min(5.0, 0.05 * 2 ** min(self.failures, 7))
        self.retry_at = time.monotonic() + delay
        sys.stderr.write(f"fork server: {why}; next try in {delay:.2f}s\n")

    def parent_readable(self) -> None:
        try:
            data = os.read(self.parent_fd, 4096)
        except OSError:
            data = b""
        if not data:
            self.stop()

    def stop(self) -> None:
        self.serving = False

    def kill_orphans(self) -> None:
        process_tree.kill_descendants(self.pid, exclude=self.spares | self.running.keys())

    def shutdown(self) -> None:
        """The watchdog is gone (or it gave up draining): leave no invocation behind.

        Every descendant, not only our children: a script runs in a session of its own, and
        what outlives its supervisor is re-parented to us (a subreaper), so the whole tree is
        below us until we exit."""
        self.listener.close()
        self.taken()
        deadline = time.monotonic() + SHUTDOWN_WAIT
        while process_tree.kill_descendants(self.pid) and time.monotonic() < deadline:
            time.sleep(0.005)  # SIGKILLed, not yet gone: look again for late forks
        while process_tree.reap_children() and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.warm_ups_left:  # stopped before the warm-ups were done
            from faassupervisor import workdir

            assert self.warm_dir is not None  # warm-ups are left only with a warm dir (__init__)
            workdir.remove(self.warm_dir)

    # ---- in a forked child

    def become_spare(self) -> None:
        """A spare's life: its own session, default SIGCHLD, none of our descriptors but the
        listener; wait for a connection, say it was taken, serve it. Never returns."""
        try:
            os.setsid()
            process_tree.set_parent_death_signal(signal.SIGKILL)  # a spare must not outlive the server
            if os.getppid() != self.pid:
                os._exit(0)  # the server died before we could ask
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # SIGTERM and SIGINT: see serve()
            for fd in (self.taken_read, self.wake_read, self.wake_write, self.parent_fd, *self.clients):
                os.close(fd)
            # socket._accept(), a private method of socket.socket, where accept() would wrap
            # it and turn the new socket's family and type into enums: the enum machinery's
            # pages cost each spare ~25 copy-on-write faults (~3 % of its life, `make bench
            # BENCH=forkchild`). tests/test_watchdog_forkserver.py fails if it changes.
            fd, _ = self.listener._accept()  # type: ignore[attr-defined]
            conn = socket.socket(fileno=fd)
            self.listener.close()
            client, uid = forkprotocol.peer(conn)
            os.write(self.taken_write, _TAKEN.pack(os.getpid(), client))
            os.close(self.taken_write)
            process_tree.set_parent_death_signal(0)  # an invocation runs to its end, whatever happens to the server
            if uid != os.getuid():  # only our own user's processes may ask for a fork (as a 0700 directory would)
                os._exit(0)
            data, fds = forkprotocol.receive(conn, 2)
            if not data or len(fds) != 2:
                os._exit(0)  # the client went away (or sent nonsense): nothing to do
            message = forkprotocol.parse(data)
            try:
                conn.send(forkprotocol.reply(forkprotocol.PID, os.getpid()))
            except OSError:
                # The client gave up before we got here: nobody wants the answer, and the
                # invocation must not run at all.
                os._exit(0)
        except BaseException as err:  # noqa: B902 - nothing may escape a forked child
            _die(err)
        _run_child(message, fds, conn, self.environ)


def _run_child(message: dict, fds: List[int], conn: socket.socket, environ: Mapping[str, str]) -> None:
    status = 1
    try:
        status = run_supervisor(message, fds, conn, environ)
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


def run_supervisor(message: dict, fds: List[int], conn: socket.socket, environ: Mapping[str, str]) -> int:
    """The child's whole life: one `supervisor_main` call on the passed pipes, in `environ` (the
    server's) with the request's variables added."""
    from faassupervisor.__main__ import supervisor_main
    from faassupervisor.invocation import InvocationOptions

    def announce(content_type: str) -> None:
        forkprotocol.send(conn, forkprotocol.reply(forkprotocol.CONTENT_TYPE, content_type))

    stdin = os.fdopen(fds[0], "rb")
    stdout = _WrittenWhenFull(io.FileIO(fds[1], "wb"), PIPE_SIZE)
    options = InvocationOptions(logs_in_response=False, on_content_type=announce, signals_handled=True,
                                work_dir=message.get("work_dir"))
    environ = child_environ(environ, message["variables"])
    status = int(supervisor_main(argv=[], environ=environ, stdin=stdin, stdout=stdout, options=options))
    # The invocation is over (the supervisor has cleaned up after itself): tell the client now
    # rather than after this process is torn down and reaped, which takes milliseconds. Before
    # the output's end, so that the client, which reads it after that end, finds it there.
    forkprotocol.send(conn, forkprotocol.reply(forkprotocol.EXIT, status))
    try:
        stdout.close()
    except OSError:
        pass  # the client went away: it no longer cares
    return status


PIPE_SIZE = 64 * 1024  # a pipe's default capacity


class _WrittenWhenFull(io.BufferedWriter):
    """The response pipe, written when its buffer is full and at the end, not at every flush.

    The client answers only once the invocation is over, so the supervisor's flush after the
    response (before it cleans up) only woke the client once for the body, and again for its
    end: a small response now reaches it in one piece, right before the end."""

    def flush(self) -> None:
        pass

    def close(self) -> None:
        try:
            if not self.closed:
                io.BufferedWriter.flush(self)
        finally:
            super().close()


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    environ = dict(os.environ)  # the watchdog's, as it started us: requests send only their own variables
    if len(argv) != 1:
        sys.stderr.write("usage: python -m fwatchdog.forkserver SOCKET_PATH\n")
        return 2
    try:
        warm_dir = preload()
    except Exception as err:  # one line, never a traceback: the watchdog reports it
        sys.stderr.write(f"fork server: cannot import the supervisor: {type(err).__name__}: {err}\n")
        return 1
    # The watchdog holds the other end of our stdin: EOF there means it is gone. Move it off
    # fd 0 so that children, which must not hold it, get /dev/null as their stdin.
    parent_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    ForkServer(forkprotocol.socket_address(argv[0]), parent_fd=parent_fd, environ=environ, warm_dir=warm_dir).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
