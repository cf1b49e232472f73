"""Background invocations: `POST /job/<service>` answers 201 at once and runs later.

OSCAR turns such a request into a Kubernetes Job; locally we run it in this
process, `max_jobs` at a time, with at most `job_queue_size` waiting (429
beyond). The body is spooled to the job's private temp dir first (the client
is gone by the time it runs) and handed to the child as its stdin file. The
outputs go to the service's output providers, as the supervisor does for any
invocation; the response body has no reader, so only its beginning is logged,
as a Job's log would show it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import queue
import threading
import time
from typing import List

from faassupervisor import workdir
from fwatchdog.invocation import (
    BodyError, IncomingRequest, Invoker, Reply, Run, message_reply, read_chunks, set_timeout,
)
from fwatchdog.shared_state import SharedState
from fwatchdog.tempdirs import TempDirUnavailable
from fwatchdog.status import Outcome

log = logging.getLogger(__name__)

LOGGED_OUTPUT = 4096  # bytes of a job's response shown in the log
BODY_FILE = ".request-body"


@dataclasses.dataclass
class Job:
    id: int
    request: IncomingRequest  # its stream already consumed; kept for logging and CGI variables
    variables: dict  # the request's own (CGI, TMPDIR), laid over the watchdog's environment
    temp_dir: str
    accepted: float


class JobRunner:
    def __init__(self, invoker: Invoker, shared: SharedState, max_jobs: int, queue_size: int):
        self.invoker = invoker
        self.shared = shared
        self.max_jobs = max_jobs
        self.slots = threading.BoundedSemaphore(max_jobs + queue_size)
        self.queue: "queue.Queue[Job]" = queue.Queue()
        self.ids = itertools.count(1)
        self.threads: List[threading.Thread] = []
        self._start_lock = threading.Lock()

    def submit(self, request: IncomingRequest) -> Reply:
        """Spool the body and queue the job; 201, or why not."""
        reply = self.invoker.body_too_large(request)
        if reply is not None:
            return reply
        if not self.slots.acquire(blocking=False):
            return message_reply(Outcome.TOO_MANY, "job queue full: try again later", close=True)
        try:
            temp_dir = self.invoker.new_temp_dir()
        except TempDirUnavailable as err:
            self.slots.release()
            return self.invoker.temp_dir_reply(err)
        try:
            self._spool(request, os.path.join(temp_dir, BODY_FILE))
        except BodyError as err:
            self.invoker.release_temp_dir(temp_dir)
            self.slots.release()
            return message_reply(err.outcome, str(err), close=True)
        except OSError as err:
            self.invoker.release_temp_dir(temp_dir)
            self.slots.release()
            fault = workdir.environment_fault(err, self.invoker.temp_dirs.parent)
            if fault is None:
                raise
            return self.invoker.temp_dir_reply(fault)
        except BaseException:
            self.invoker.release_temp_dir(temp_dir)
            self.slots.release()
            raise
        detached = dataclasses.replace(request, stream=None, socket=None)  # type: ignore[arg-type]  # spooled: a job never reads its request's stream
        job = Job(next(self.ids), detached, self.invoker.variables_for(request, temp_dir), temp_dir, time.monotonic())
        self.shared.add_job(1)
        self._ensure_threads()
        self.queue.put(job)
        log.info("job %d accepted (%s %s)", job.id, request.method, request.path)
        return Reply(Outcome.JOB_ACCEPTED, b"")

    def _spool(self, request: IncomingRequest, path: str) -> None:
        set_timeout(request.socket, self.invoker.config.read_timeout)
        with open(path, "wb") as spool:
            for chunk in read_chunks(request, self.invoker.config.max_body_size):
                spool.write(chunk)

    def _ensure_threads(self) -> None:
        # Started on first use, in the worker process: threads do not survive gunicorn's fork.
        with self._start_lock:
            while len(self.threads) < self.max_jobs:
                thread = threading.Thread(target=self._work, name=f"job-runner-{len(self.threads)}", daemon=True)
                thread.start()
                self.threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self.run(job)
            except Exception:
                log.exception("job %d failed to run", job.id)
            finally:
                self.slots.release()
                self.shared.add_job(-1)

    def run(self, job: Job) -> None:
        body = os.open(os.path.join(job.temp_dir, BODY_FILE), os.O_RDONLY)
        try:
            child = self.invoker.runner.start(job.variables, stdin_fd=body, work_dir=job.temp_dir)
        except Exception as err:
            self.invoker.release_temp_dir(job.temp_dir)
            log.error("job %d: cannot start the function: %s", job.id, err)
            return
        finally:
            os.close(body)
        run = Run(self.invoker, job.request, child, job.temp_dir, finished=lambda _status: None)
        started = time.monotonic()
        try:
            head, total = bytearray(), 0
            while True:
                state = run.collect(64 * 1024)
                output = run.take_output()
                total += len(output)
                head += output[: max(0, LOGGED_OUTPUT - len(head))]
                if state != "streaming":
                    break
            outcome, message = run.final_outcome(state)
        finally:
            run.finish(0)
        shown = head.decode("utf-8", "replace").strip()
        if total > len(head):
            shown += f" ... ({total - len(head)} more bytes)"
        log.info("job %d: %s (exit %s) after %.2fs, queued %.2fs%s%s", job.id, outcome.status,
                 child.exit_status, time.monotonic() - started, started - job.accepted,
                 f"; {message}" if message else "", f"; output: {shown}" if shown else "")
