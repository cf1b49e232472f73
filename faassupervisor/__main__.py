"""Entry points: `supervisor` (one invocation), `faas-supervisor` (tools), `python -m faassupervisor`.

Thin: each parses its arguments and hands over. An invocation's errors become
exit statuses (`ExitStatus`) in `faassupervisor.invocation.run_invocation`; the
watchdog turns those into HTTP statuses.
"""

from __future__ import annotations

import os
import signal
import sys

from faassupervisor.config.settings import RuntimeSettings
from faassupervisor.errors import Terminated

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import BinaryIO, Mapping, Optional, Sequence


def _on_signal(signum, _frame):
    raise Terminated(signal.Signals(signum).name)


def terminate_forked_children(parent_pid: int):
    """A SIGTERM/SIGINT handler for a process that forks supervisors: ignored in `parent_pid`
    itself, `Terminated` in every child forked from it. Installed once in the fork server, so
    that its children need not install `_on_signal` themselves (with
    `InvocationOptions(signals_handled=True)`): each `signal.signal` call cost a child a dozen
    copy-on-write page faults."""

    def handler(signum, frame):
        if os.getpid() != parent_pid:
            _on_signal(signum, frame)

    return handler


def supervisor_main(
    argv: Optional[Sequence[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
    stdin: Optional[BinaryIO] = None,
    stdout: Optional[BinaryIO] = None,
    options=None,
) -> int:
    """`supervisor`: one invocation, the body on stdin (or `EVENT`), the response on stdout."""
    from faassupervisor.invocation import InvocationOptions, run_invocation

    argv = sys.argv[1:] if argv is None else list(argv)
    timeout = None
    if argv:  # argparse costs milliseconds of start-up; the common `supervisor` call has no arguments
        from faassupervisor import cli

        timeout = cli.supervisor_parser().parse_args(argv).timeout
    environ = os.environ if environ is None else environ
    if options is None:
        options = InvocationOptions(timeout=timeout)
    if not options.signals_handled:
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    return run_invocation(
        lambda: RuntimeSettings.from_environ(environ),
        environ,
        sys.stdin.buffer if stdin is None else stdin,
        sys.stdout.buffer if stdout is None else stdout,
        options,
    )


def supervisor_command() -> None:
    """The `supervisor` console script: one invocation, then exit without the interpreter's teardown."""
    exit_now(supervisor_main())


def exit_now(status: int) -> None:
    """Flush standard output and error, then `os._exit`.

    By the time an invocation returns, its temp dirs are gone, its children
    reaped and its files closed; what a normal exit would still do is free
    every module and object one by one, several milliseconds of a request
    that nothing observes.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # the reader went away: the status still tells what happened
    os._exit(status)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`faas-supervisor`: `run` for local testing, plus the control plane's commands."""
    from faassupervisor import cli

    return cli.faas_supervisor(list(sys.argv[1:] if argv is None else argv))


def module_main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m faassupervisor`: the supervisor, or `faas-supervisor` when given a subcommand."""
    from faassupervisor import cli

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in cli.subcommand_names():
        return main(args)
    return supervisor_main(args)


if __name__ == "__main__":
    exit_now(module_main())
