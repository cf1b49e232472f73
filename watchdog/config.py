"""The watchdog's settings: every variable declared once, parsed once into a frozen object.

The names and meanings are the OpenFaaS classic watchdog's (OSCAR sets them in
every service pod), plus a few of ours for what classic could not do (a body
size limit, background jobs, the listen address). Each declaration carries
its parser, default and one-line doc; `from_environ` and the README table
(`python -m fwatchdog.config --markdown`) both come from the same `SETTINGS`.
Parsers are strict: `max_inflight=abc` fails at start naming the variable,
where classic silently read it as 0 (unlimited).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Tuple

from faassupervisor.config.values import parse_bool, parse_duration

DEFAULT_SUPERVISOR = "supervisor"


class ConfigError(Exception):
    """A variable with a value we cannot use; `str()` is one line naming it."""


# ---------------------------------------------------------------- value parsers
# Each takes the raw text and returns the typed value or raises ValueError with
# what was expected; `from_environ` adds the variable name and the bad value.
# Booleans and durations are read as everywhere else in the project (`values`).

def parse_count(text: str) -> int:
    """A non-negative integer."""
    text = text.strip()
    if not re.fullmatch(r"\d+", text):
        raise ValueError("expected a non-negative integer")
    return int(text)


def parse_positive(text: str) -> int:
    value = parse_count(text)
    if value < 1:
        raise ValueError("expected an integer >= 1")
    return value


def parse_port(text: str) -> int:
    value = parse_count(text)
    if not 1 <= value <= 65535:
        raise ValueError("expected a TCP port between 1 and 65535")
    return value


_SIZE_UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def parse_size(text: str) -> int:
    """Bytes, with Kubernetes quantity suffixes: `1048576`, `100M` (10^6), `1Gi` (2^30)."""
    match = re.fullmatch(r"(\d+)\s*([kKMGT]i?)?B?", text.strip())
    if not match or (match.group(2) or "") not in _SIZE_UNITS:
        raise ValueError("expected bytes, optionally with a suffix (100M, 512Mi, 1Gi)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2) or ""]


def parse_text(text: str) -> str:
    return text.strip()


def parse_command(text: str) -> Tuple[str, ...]:
    try:
        argv = tuple(shlex.split(text))
    except ValueError as err:
        raise ValueError(f"cannot split into a command line ({err})") from None
    if not argv:
        raise ValueError("expected a command")
    return argv


# ---------------------------------------------------------------- declarations


@dataclasses.dataclass(frozen=True)
class Setting:
    """One environment variable: where it goes, how it is read, what it means."""

    env: str
    field: str
    parse: Callable[[str], Any]
    default: Any
    doc: str
    default_doc: Optional[str] = None  # how the default reads in the README, when repr() would not do
    origin: str = "classic"  # whose variable: the OpenFaaS classic watchdog's, OSCAR's, POSIX's or ours
    secret: bool = False


SETTINGS: Tuple[Setting, ...] = (
    Setting("fprocess", "fprocess", parse_command, (DEFAULT_SUPERVISOR,),
            "Command run per request. Unset or naming our `supervisor` (`supervisor`, "
            "`/oscar/bin/supervisor`, any path ending in `/supervisor`): forked from a pre-imported "
            "fork server. Anything else is exec'd per request, as classic does.",
            default_doc="`supervisor`"),
    Setting("read_timeout", "read_timeout", parse_duration, 5.0,
            "Longest wait for the next piece of a request body (per read); exceeded: 408."),
    Setting("write_timeout", "write_timeout", parse_duration, 5.0,
            "Longest wait for the client to accept the next piece of a response (per write); "
            "also the grace period for in-flight requests after SIGTERM."),
    Setting("exec_timeout", "exec_timeout", parse_duration, 0.0,
            "Longest run of one invocation; exceeded: its whole process tree is killed, 408. `0`: no limit.",
            default_doc="`0` (no limit)"),
    Setting("max_inflight", "max_inflight", parse_count, 0,
            "Most invocations running at once; above it: 429 at once. `0`: no limit.",
            default_doc="`0` (no limit)"),
    Setting("write_debug", "write_debug", parse_bool, False,
            "Log each request, its exit status and response size (and the access log) at DEBUG."),
    Setting("combine_output", "combine_output", parse_bool, True,
            "Exec mode: the process's stderr joins its stdout in the response; `false` sends it to the "
            "container log. (The supervisor's logs always go to the container log.)"),
    Setting("content_type", "content_type", parse_text, "",
            "Force the response `Content-Type`. Unset: the supervisor's own choice, or in exec mode the "
            "request's `Content-Type` (as classic).", default_doc="unset"),
    Setting("cgi_headers", "cgi_headers", parse_bool, True,
            "Pass the request headers, method, query and path to the process as `Http_*` variables."),
    Setting("marshal_request", "marshal_request", parse_bool, False,
            "Send the process the JSON document `{\"header\": {\"Name\": [\"value\"]}, \"body\": {\"raw\": "
            "\"<base64>\"}}` (classic's format) instead of the raw body (buffers the body, up to `max_body_size`)."),
    Setting("suppress_lock", "suppress_lock", parse_bool, False,
            "Do not write the lock file `$TMPDIR/.lock` (`/tmp/.lock`) that exec health probes check."),
    Setting("healthcheck_interval", "healthcheck_interval", parse_duration, None,
            "After SIGTERM, how long `/_/health` keeps answering 503 (so the kubelet notices) before the "
            "listener closes, unless requests are still draining.",
            default_doc="`write_timeout`"),
    Setting("port", "port", parse_port, 8080, "TCP port to listen on."),
    # ---- ours
    Setting("listen_address", "listen_address", parse_text, "0.0.0.0",
            "Address to listen on (`127.0.0.1` for local use only).", origin="ours"),
    Setting("max_body_size", "max_body_size", parse_size, 1 << 30,
            "Largest request body (bytes; `100M`, `512Mi`, `1Gi`); above it: 413. `0`: no limit.",
            default_doc="`1Gi`", origin="ours"),
    Setting("workers", "workers", parse_positive, 1,
            "gunicorn worker processes. Metrics are per worker: keep 1 unless the HTTP layer itself "
            "is the bottleneck.", origin="ours"),
    Setting("threads", "threads", parse_count, 0,
            "Threads per worker (each serves one request at a time). `0`: `max_inflight` + 16, or 64.",
            default_doc="`0` (auto)", origin="ours"),
    Setting("max_jobs", "max_jobs", parse_positive, 2,
            "Background invocations (`POST /job/<service>`) run at once.", origin="ours"),
    Setting("job_queue_size", "job_queue_size", parse_count, 100,
            "Background invocations waiting to run; above it `POST /job/<service>` answers 429.",
            origin="ours"),
    Setting("OSCAR_SERVICE_TOKEN", "service_token", parse_text, "",
            "When set, `/run/<service>` and `/job/<service>` (with or without a trailing part) require "
            "`Authorization: Bearer <token>` (else 401).",
            default_doc="unset", origin="OSCAR", secret=True),
    Setting("token_on_every_path", "token_on_every_path", parse_bool, False,
            "Every invocation path needs the service token, not only `/run` and `/job`; `/_/health` and "
            "`/metrics` stay open. Off by default: OSCAR forwards the calls it authenticated (OIDC ones "
            "with the caller's own header) to `/`. Needs `OSCAR_SERVICE_TOKEN`.", origin="ours"),
    Setting("OSCAR_SERVICE_NAME", "service_name", parse_text, "",
            "When set, `/run/<name>` and `/job/<name>` answer 404 for any other name.",
            default_doc="unset", origin="OSCAR"),
    Setting("TMPDIR", "temp_dir", parse_text, "/tmp",
            "Parent of each request's private temporary directory, and where the lock file goes.",
            origin="POSIX"),
)


@dataclasses.dataclass(frozen=True)
class WatchdogConfig:
    """Everything the watchdog takes from its environment, typed; see `SETTINGS` for the meanings."""

    fprocess: Tuple[str, ...] = (DEFAULT_SUPERVISOR,)
    read_timeout: float = 5.0
    write_timeout: float = 5.0
    exec_timeout: float = 0.0
    max_inflight: int = 0
    write_debug: bool = False
    combine_output: bool = True
    content_type: str = ""
    cgi_headers: bool = True
    marshal_request: bool = False
    suppress_lock: bool = False
    healthcheck_interval: Optional[float] = None
    port: int = 8080
    listen_address: str = "0.0.0.0"
    max_body_size: int = 1 << 30
    workers: int = 1
    threads: int = 0
    max_jobs: int = 2
    job_queue_size: int = 100
    service_token: str = dataclasses.field(default="", repr=False)
    token_on_every_path: bool = False
    service_name: str = ""
    temp_dir: str = "/tmp"
    # The environment every child starts from (request variables are added per request).
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self):
        if self.healthcheck_interval is None:
            object.__setattr__(self, "healthcheck_interval", self.write_timeout)
        object.__setattr__(self, "environ", MappingProxyType(dict(self.environ)))

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> "WatchdogConfig":
        """Parse every declared variable of `env`; an empty value means the default."""
        values = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[setting.field] = setting.parse(raw)
            except ValueError as err:
                shown = "<hidden>" if setting.secret else repr(raw)
                raise ConfigError(f"{setting.env}={shown}: {err}") from None
        if values.get("token_on_every_path") and not values.get("service_token"):
            # Open paths the operator asked to close would be worse than not starting.
            raise ConfigError("token_on_every_path=true: OSCAR_SERVICE_TOKEN is not set, so no path could be closed")
        return cls(environ=env, **values)

    # ---- derived

    @property
    def uses_supervisor(self) -> bool:
        """Whether `fprocess` is our supervisor, so requests fork from the pre-imported fork server."""
        return is_supervisor_command(self.fprocess)

    @property
    def thread_count(self) -> int:
        if self.threads:
            return self.threads
        # Headroom above max_inflight so the request over the limit reaches the app and gets
        # its 429 at once instead of queueing behind busy threads.
        return self.max_inflight + 16 if self.max_inflight else 64

    @property
    def lock_path(self) -> str:
        return self.temp_dir.rstrip("/") + "/.lock"


def is_supervisor_command(argv: Tuple[str, ...]) -> bool:
    """`supervisor`, `/oscar/bin/supervisor`, `.../supervisor`, with no arguments."""
    return len(argv) == 1 and (argv[0] == DEFAULT_SUPERVISOR or argv[0].endswith("/" + DEFAULT_SUPERVISOR))


def markdown_table() -> str:
    """The README's configuration table, from the declarations."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]  # unmarked: the classic watchdog's
    for setting in SETTINGS:
        default = setting.default_doc or f"`{_show_default(setting.default)}`"
        origin = "" if setting.origin == "classic" else f" *({setting.origin})*"
        lines.append(f"| `{setting.env}`{origin} | {default} | {setting.doc} |")
    return "\n".join(lines)


def _show_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}s"
    return str(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fwatchdog.config", description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the variables as a markdown table")
    parser.parse_args(argv)
    print(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
