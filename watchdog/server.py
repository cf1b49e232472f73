"""gunicorn, embedded: the settings come from the same `WatchdogConfig` the app uses.

`WatchdogServer` is a `BaseApplication`: no gunicorn command line, no config
file, nothing read from the environment twice. It owns what must exist once
per watchdog, before the workers fork: the fork server and the state shared
with the workers (draining flag, in-flight counters).

`WatchdogArbiter` changes one thing in gunicorn's arbiter, SIGTERM, to the
classic watchdog's shutdown: health turns 503 and the lock file goes at once,
new invocations are refused (503), the listener stays up for
`healthcheck_interval` so the kubelet sees the 503, then the arbiter exits as
soon as nothing is in flight, or kills what is left after `write_timeout`
more. The signal handler only queues the signal (gunicorn's design); the
decisions are taken in the arbiter's loop.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from faassupervisor import process_tree
from fwatchdog import lockfile, tempdirs
from fwatchdog.app import Runtime, create_app
from fwatchdog.config import WatchdogConfig
from fwatchdog.forkclient import ForkServerProcess
from fwatchdog.shared_state import SharedState

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import List, Optional

log = logging.getLogger(__name__)


class WatchdogServer(BaseApplication):
    def __init__(self, config: WatchdogConfig, forkserver: Optional[ForkServerProcess] = None):
        """`forkserver`: one already spawned (`fwatchdog` starts it first), else made here."""
        self.config = config
        self.shared = SharedState(config.workers)
        if forkserver is None and config.uses_supervisor:
            forkserver = ForkServerProcess(config.environ)
        self.forkserver = forkserver
        self.runtime = None
        self.dead_workers: List[int] = []  # reaped workers whose private dirs could not all be removed yet
        super().__init__()

    # ---- gunicorn's application interface

    def load_config(self) -> None:
        config = self.config
        host = f"[{config.listen_address}]" if ":" in config.listen_address else config.listen_address
        settings = {
            "bind": [f"{host}:{config.port}"],
            "workers": config.workers,
            "worker_class": "gthread",
            "threads": config.thread_count,
            "worker_connections": max(1000, config.thread_count * 4),
            "graceful_timeout": int(config.write_timeout) + 5,
            "keepalive": 5,
            "accesslog": "-" if config.write_debug else None,
            "errorlog": "-",
            "loglevel": "debug" if config.write_debug else "info",
            "proc_name": "fwatchdog",
            "preload_app": False,  # the app (and its threads) is built in each worker
            "control_socket_disable": True,  # gunicorn >= 24's control socket: not ours to expose
            "worker_tmp_dir": _heartbeat_dir(),
            "when_ready": self._when_ready,
            "pre_fork": self._pre_fork,
            "post_fork": self._post_fork,
            "child_exit": self._child_exit,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
            "on_exit": self._on_exit,
        }
        for name, value in settings.items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self):
        """In each worker: the app, bound to the arbiter's fork server and shared state."""
        self.runtime = Runtime.build(
            self.config, self.shared, forkserver_path=self.forkserver.path if self.forkserver else None
        )
        return create_app(self.config, self.runtime)

    def run(self) -> None:
        try:
            if self.forkserver is not None:
                self.forkserver.start()
            WatchdogArbiter(self).run()
        except RuntimeError as err:
            sys.stderr.write(f"fwatchdog: {err}\n")
            sys.exit(1)
        finally:
            self._cleanup()

    # ---- hooks

    def _when_ready(self, arbiter) -> None:
        if not self.config.suppress_lock:
            try:
                lockfile.write(self.config.lock_path)
            except OSError as err:  # TMPDIR unusable: /_/health says why, and writes it once it can
                log.error("cannot write the lock file %s: %s", self.config.lock_path, err.strerror or err)
                self.shared.set_lock_pending(True)
        mode = "fork server" if self.forkserver else "exec " + " ".join(self.config.fprocess)
        log.info("fwatchdog ready on %s:%s (%s)", self.config.listen_address, self.config.port, mode)

    def _pre_fork(self, arbiter, worker) -> None:
        self.shared.reserve()

    def _post_fork(self, arbiter, worker) -> None:
        self.shared.claim()
        if self.forkserver is not None:
            self.forkserver.detach()

    def _post_worker_init(self, worker) -> None:
        graceful_exit = signal.getsignal(signal.SIGTERM)
        shared = self.shared

        def on_sigterm(signum, frame):
            if shared.term_allowed and callable(graceful_exit):
                graceful_exit(signum, frame)
            # else: the group's SIGTERM; the arbiter got it too and drains, then stops us itself

        signal.signal(signal.SIGTERM, on_sigterm)

    def _child_exit(self, arbiter, worker) -> None:
        # In the arbiter, the worker reaped (killed with SIGKILL, say): its invocations no longer
        # hold max_inflight places nor the drain (the fork server kills them: it watches its clients).
        self.shared.forget(worker.pid)
        if tempdirs.remove_left_by(self.config.temp_dir, worker.pid):
            self.dead_workers.append(worker.pid)

    def _worker_exit(self, arbiter, worker) -> None:
        if self.runtime is not None:
            self.runtime.close()

    def _on_exit(self, arbiter) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        lockfile.remove(self.config.lock_path)
        if self.forkserver is not None:
            self.forkserver.stop()
        for pid in self.dead_workers:  # again: an invocation being killed may have written since
            tempdirs.remove_left_by(self.config.temp_dir, pid)


class WatchdogArbiter(Arbiter):
    """gunicorn's arbiter with the classic watchdog's graceful SIGTERM."""

    drain_started: Optional[float] = None

    def handle_term(self) -> None:
        if self.drain_started is not None:
            return
        self.drain_started = time.monotonic()
        app = self.app
        app.shared.start_draining()
        lockfile.remove(app.config.lock_path)
        log.info("SIGTERM: draining %d invocation(s); refusing new ones", app.shared.busy)

    def kill_worker(self, pid, sig) -> None:
        if sig == signal.SIGTERM:
            self.app.shared.allow_term()
        super().kill_worker(pid, sig)

    def reap_workers(self) -> None:
        # The fork server's status first: gunicorn's waitpid(-1) would reap it without a word,
        # and Popen would then report a kill -9 as "exited with status 0".
        if self.app.forkserver is not None:
            self.app.forkserver.poll()
        super().reap_workers()

    def wait_for_signals(self, timeout=1.0):
        if self.drain_started is not None:
            timeout = min(timeout, 0.05)
        return super().wait_for_signals(timeout)

    def manage_workers(self) -> None:
        drain_started = self.drain_started
        if drain_started is not None:
            self._check_drained(drain_started)
        elif self.app.forkserver is not None:
            try:
                self.app.forkserver.ensure_running()
            except RuntimeError as err:
                log.error("%s", err)
        super().manage_workers()

    def _check_drained(self, drain_started: float) -> None:
        config = self.app.config
        elapsed = time.monotonic() - drain_started
        if elapsed < config.healthcheck_interval:
            return
        busy = self.app.shared.busy
        if busy == 0:
            log.info("drained: exiting")
            raise StopIteration
        if elapsed >= config.healthcheck_interval + config.write_timeout:
            log.warning("write_timeout after SIGTERM: killing %d invocation(s) still running", busy)
            self.app.shared.expire_drain()  # their clients get a 503 saying so
            if self.app.forkserver is not None:
                self.app.forkserver.stop()  # it kills every process below it
            for pid in list(self.WORKERS):
                process_tree.kill_descendants(pid)
            raise StopIteration


def _heartbeat_dir():
    """Where gunicorn's workers keep the file they touch (utime) at every turn of their loop:
    /dev/shm when there is one, as gunicorn's docs advise for containers. In TMPDIR, usually on
    a disk, each touch dirtied an inode: ~8 % of a worker's CPU under load here. None: gunicorn's
    default (the temp dir)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
