"""Command-line parsing for `supervisor` and `faas-supervisor`, and `faas-supervisor run`.

`faas-supervisor run` mirrors `oscar-cli service run`: `--input FILE` and
`--text-input TEXT` are sent base64-encoded, as oscar-cli sends them, through
the very same invocation code an HTTP request takes; `--output` stores the
decoded result.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
from pathlib import Path
from typing import BinaryIO, List

from faassupervisor import __version__
from faassupervisor.config.values import parse_positive_seconds


def _positive_seconds(text: str) -> float:
    try:
        return parse_positive_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err}, got {text!r}") from None


def supervisor_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supervisor",
        description="Run one invocation: the request body on stdin (or $EVENT), the response on stdout.",
    )
    parser.add_argument("--timeout", type=_positive_seconds, help="kill the script's whole process tree after N seconds")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _run_parser(subparsers) -> None:
    run = subparsers.add_parser("run", help="run a script locally as one invocation (like oscar-cli service run)")
    run.add_argument("--script", required=True, type=Path, help="the user script")
    source = run.add_mutually_exclusive_group()
    # `-f/--file-input` is oscar-cli's current spelling of `service run`'s file flag.
    source.add_argument("--input", "-f", "--file-input", dest="input", type=Path,
                        help="a file, sent base64-encoded")
    source.add_argument("--text-input", help="text, sent base64-encoded")
    source.add_argument("--event", type=Path, help="a file sent as the body unchanged (a JSON or storage event)")
    run.add_argument("--output", type=Path, help="write the decoded result (file, zip or logs) here")
    run.add_argument("--config", type=Path, help="function_config.yaml or a whole FDL file")
    run.add_argument("--service", help="which service of the FDL (default: the first)")
    run.add_argument("--timeout", type=_positive_seconds, help="kill the script's whole process tree after N seconds")
    run.set_defaults(func=run_command)


def _controlplane_commands():
    try:
        from faassupervisor.controlplane import commands
    except ImportError:
        return None
    return commands


def faas_supervisor_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faas-supervisor", description="faas-supervisor tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _run_parser(subparsers)
    commands = _controlplane_commands()
    if commands is not None:
        commands.add_subcommands(subparsers)
    return parser


def subcommand_names() -> List[str]:
    parser = faas_supervisor_parser()
    for action in parser._actions:  # argparse offers no public way to list subcommands
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def faas_supervisor(argv: List[str]) -> int:
    """Run one subcommand; a SupervisorError is one line on stderr and its exit status, never a traceback."""
    from faassupervisor import logs
    from faassupervisor.errors import SupervisorError

    args = faas_supervisor_parser().parse_args(argv)
    logs.configure("INFO", capture=False)
    try:
        return args.func(args)
    except SupervisorError as err:
        sys.stderr.write(f"faas-supervisor {args.command}: error: {err}\n")
        return int(err.exit_status)


class _Base64Reader:
    """Streams `base64(file)` without holding the file in memory."""

    def __init__(self, handle: BinaryIO):
        self._handle = handle
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self._pending + base64.b64encode(self._handle.read())
        while len(self._pending) < size:
            chunk = self._handle.read(3 * (1 << 16))
            if not chunk:
                break
            self._pending += base64.b64encode(chunk)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def run_command(args) -> int:
    from faassupervisor.config.settings import RuntimeSettings
    from faassupervisor.invocation import InvocationOptions, run_invocation

    environ = dict(os.environ)
    environ.pop("EVENT", None)  # the body comes from the flags, never from a stray variable
    opened = None
    content_type = None  # decided by content, as for an HTTP body without one
    body: BinaryIO | _Base64Reader
    if args.input is not None:
        opened = open(args.input, "rb")
        body = _Base64Reader(opened)
    elif args.text_input is not None:
        body = io.BytesIO(base64.b64encode(args.text_input.encode()))
    elif args.event is not None:
        opened = open(args.event, "rb")
        body = opened
        content_type = "application/json"
    else:
        body = io.BytesIO(b"")
    options = InvocationOptions(
        timeout=args.timeout, raw_response=True if args.output else None, content_type=content_type
    )
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        return run_invocation(
            lambda: RuntimeSettings.from_environ(environ, config_path=args.config, script_path=args.script,
                                                 service_name=args.service),
            environ,
            body,
            out,
            options,
        )
    finally:
        if opened is not None:
            opened.close()
        if args.output:
            out.close()
