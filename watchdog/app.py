"""The Flask app: routes, and the layers every invocation passes (auth, then limits, then metrics).

`create_app(config)` is the factory gunicorn's workers load and tests call.
Everything the app needs that outlives a request (the runner that starts
children, the state shared with the arbiter, the job queue, the metrics)
lives in a `Runtime`; a standalone app (tests, `flask run`) builds its own,
starting the fork server itself on first use.

Routes:
    GET  /_/health            200 while serving; 503 once draining or the lock file is gone
    GET  /metrics             Prometheus text format
    POST /run/<service>[/...] synchronous invocation (bearer token when OSCAR_SERVICE_TOKEN is set)
    POST /job/<service>[/...] background invocation: 201 at once (same token)
    any  /<path>              synchronous invocation, as the classic watchdog (GET/POST/PUT/PATCH/DELETE);
                              open unless token_on_every_path: OSCAR forwards the calls it has
                              authenticated, OIDC ones with the caller's own header, to `/`
                              (grycap/oscar pkg/utils/knative.go GetProxyDirector, pkg/handlers/run.go)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Optional

from flask import Flask, Response, request

from faassupervisor import workdir
from fwatchdog import auth, lockfile
from fwatchdog.child import Runner
from fwatchdog.config import WatchdogConfig
from fwatchdog.exec_runner import ExecRunner
from fwatchdog.forkclient import ForkRunner, ForkServerProcess
from fwatchdog.invocation import IncomingRequest, Invoker, LiveChildren, Reply, message_reply
from fwatchdog.jobs import JobRunner
from fwatchdog.metrics import Metrics
from fwatchdog.shared_state import SharedState
from fwatchdog.status import Outcome
from fwatchdog.tempdirs import TempDirPool

log = logging.getLogger(__name__)

INVOKE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ALL_METHODS = INVOKE_METHODS + ["HEAD", "OPTIONS"]
CLOSE_KEY = "fwatchdog.close_connection"


@dataclasses.dataclass
class Runtime:
    """What one app shares across requests; built once per worker process."""

    config: WatchdogConfig
    shared: SharedState
    runner: Runner  # ExecRunner or ForkRunner
    live: LiveChildren
    temp_dirs: TempDirPool
    owned_server: Optional[ForkServerProcess] = None  # a standalone app's own fork server

    @classmethod
    def build(cls, config: WatchdogConfig, shared: Optional[SharedState] = None,
              forkserver_path: Optional[str] = None) -> "Runtime":
        """A runtime using the arbiter's fork server at `forkserver_path`, or its own one."""
        shared = shared or SharedState(config.workers)
        owned = None
        runner: Runner
        if not config.uses_supervisor:
            runner = ExecRunner(config.fprocess, config.combine_output, config.environ)
        elif forkserver_path:
            runner = ForkRunner(forkserver_path)
        else:
            owned = ForkServerProcess(config.environ)
            runner = ForkRunner(owned.path, server=owned)
        return cls(config, shared, runner, LiveChildren(), TempDirPool(config.temp_dir), owned)

    def close(self) -> None:
        """Kill what still runs (a stopping worker), stop an owned fork server."""
        killed = self.live.kill_all()
        if killed:
            log.warning("killed %d invocation(s) still running at exit", killed)
        self.temp_dirs.close()
        if self.owned_server is not None:
            self.owned_server.stop()


def create_app(config: WatchdogConfig, runtime: Optional[Runtime] = None) -> Flask:
    """The watchdog's WSGI app for `config`."""
    runtime = runtime or Runtime.build(config)
    invoker = Invoker(config, runtime.runner, runtime.live, runtime.temp_dirs, runtime.shared)
    jobs = JobRunner(invoker, runtime.shared, config.max_jobs, config.job_queue_size)
    metrics = Metrics()
    shared = runtime.shared

    app = Flask("watchdog")
    app.config["MAX_CONTENT_LENGTH"] = None  # we enforce max_body_size ourselves, streaming
    app.extensions["watchdog"] = runtime
    app.wsgi_app = _closing_connections(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware

    def invoke_sync() -> Response:
        started = time.monotonic()
        method = request.method
        if shared.draining:
            return _observed(metrics, method, started, _shutting_down())
        if not shared.try_acquire(config.max_inflight):
            reply = message_reply(Outcome.TOO_MANY, f"max_inflight ({config.max_inflight}) reached: try again later")
            return _observed(metrics, method, started, reply)
        metrics.in_flight.inc()

        done: list[int] = []

        def finished(status: int) -> None:
            if done:
                return
            done.append(status)
            metrics.in_flight.dec()
            shared.release()
            metrics.observe(method, status, time.monotonic() - started)

        try:
            return _response(invoker.invoke(_incoming(), finished))
        except BaseException:
            finished(Outcome.FAILED.status)  # never leave the in-flight count behind
            raise

    def refused(started: float) -> Optional[Response]:
        """The 401 for a request without the service token, or None when it may pass."""
        if auth.token_accepted(config.service_token, request.headers.get("Authorization")):
            return None
        reply = message_reply(Outcome.UNAUTHORIZED, "missing or invalid bearer token")
        response = _observed(metrics, request.method, started, reply)
        response.headers["WWW-Authenticate"] = 'Bearer realm="oscar"'
        return response

    def oscar_route(service: str, handler: Callable[[], Response]) -> Response:
        started = time.monotonic()
        if request.method != "POST":
            return _response(message_reply(Outcome.METHOD_NOT_ALLOWED, f"{request.path}: use POST"))
        denied = refused(started)
        if denied is not None:
            return denied
        if config.service_name and service != config.service_name:
            reply = message_reply(Outcome.UNKNOWN_SERVICE, f"no service named {service!r} here")
            return _observed(metrics, request.method, started, reply)
        return handler()

    def invoke_job() -> Response:
        started = time.monotonic()
        if shared.draining:
            return _observed(metrics, request.method, started, _shutting_down())
        return _observed(metrics, request.method, started, jobs.submit(_incoming()))

    @app.route("/_/health", methods=ALL_METHODS)
    def health() -> Response:
        if request.method not in ("GET", "HEAD"):
            return _response(message_reply(Outcome.METHOD_NOT_ALLOWED, "/_/health: use GET"))
        if not shared.draining:
            problem = workdir.unusable(config.temp_dir)
            if problem is not None:
                shared.set_lock_pending(not config.suppress_lock)  # it went with TMPDIR: rewritten once usable
                return Response(problem + "\n", 503, content_type="text/plain; charset=utf-8")
            if shared.lock_pending and not config.suppress_lock:
                _write_pending_lock(config.lock_path, shared)
        healthy = not shared.draining and (config.suppress_lock or lockfile.present(config.lock_path))
        if healthy:
            return Response("OK\n", 200, content_type="text/plain; charset=utf-8")
        return Response("shutting down\n" if shared.draining else "lock file missing\n", 503,
                        content_type="text/plain; charset=utf-8")

    @app.route("/metrics", methods=ALL_METHODS)
    def prometheus() -> Response:
        if request.method not in ("GET", "HEAD"):
            return _response(message_reply(Outcome.METHOD_NOT_ALLOWED, "/metrics: use GET"))
        return Response(metrics.render(), 200, content_type=metrics.content_type)

    # With or without a trailing part: `/run/<service>/x` must not slip past the token to `/<path>`.
    @app.route("/run/<service>", methods=ALL_METHODS)
    @app.route("/run/<service>/", defaults={"rest": ""}, methods=ALL_METHODS)
    @app.route("/run/<service>/<path:rest>", methods=ALL_METHODS)
    def run_service(service: str, rest: str = "") -> Response:
        return oscar_route(service, invoke_sync)

    @app.route("/job/<service>", methods=ALL_METHODS)
    @app.route("/job/<service>/", defaults={"rest": ""}, methods=ALL_METHODS)
    @app.route("/job/<service>/<path:rest>", methods=ALL_METHODS)
    def job_service(service: str, rest: str = "") -> Response:
        return oscar_route(service, invoke_job)

    @app.route("/", defaults={"path": ""}, methods=INVOKE_METHODS)
    @app.route("/<path:path>", methods=INVOKE_METHODS)
    def invoke_any(path: str) -> Response:
        if config.token_on_every_path:
            denied = refused(time.monotonic())
            if denied is not None:
                return denied
        return invoke_sync()

    return app


def _write_pending_lock(path: str, shared: SharedState) -> None:
    """The lock file the start could not write (TMPDIR was unusable then, and is usable now)."""
    try:
        lockfile.write(path)
    except OSError:
        return
    shared.set_lock_pending(False)


def _incoming() -> IncomingRequest:
    environ = request.environ
    return IncomingRequest(
        method=request.method,
        path=request.path,
        query=environ.get("QUERY_STRING", ""),
        headers=list(request.headers.items()),
        content_type=request.content_type or "",
        content_length=request.content_length,
        chunked="chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower(),
        stream=request.stream,
        socket=environ.get("gunicorn.socket"),
    )


def _shutting_down() -> Reply:
    return message_reply(Outcome.UNAVAILABLE, "shutting down: not accepting new invocations", close=True)


def _observed(metrics: Metrics, method: str, started: float, reply: Reply) -> Response:
    """Count an invocation answered without running anything."""
    metrics.observe(method, reply.http_status, time.monotonic() - started)
    return _response(reply)


def _response(reply: Reply) -> Response:
    streamed = not isinstance(reply.body, bytes)
    response = Response(reply.body, reply.http_status, content_type=reply.content_type, direct_passthrough=streamed)
    if reply.close_connection:
        request.environ[CLOSE_KEY] = True
    return response


def _closing_connections(wsgi_app):
    """Let a view close the connection after its response (a body left unread must not be
    parsed as the next request). gunicorn drops an app's `Connection` header, as PEP 3333
    asks, so we call its response's `force_close()`, the way its own error paths do."""

    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            if environ.get(CLOSE_KEY):
                force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return app
