"""The failure taxonomy: every error the supervisor reports is one of these.

Each kind carries the process exit status it maps to (SPEC section 2); only
`faassupervisor.__main__` turns them into exit statuses, and only the watchdog
turns exit statuses into HTTP statuses. Messages are one line, naming the
field, provider, bucket or key at fault.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """The supervisor's exit statuses, the one table both CLI and watchdog read."""

    SUCCESS = 0
    SCRIPT_FAILED = 1
    BAD_INPUT = 2  # also bad config: the client's (or deployer's) fault
    STORAGE_FAILED = 3


class SupervisorError(Exception):
    """Base of every expected failure; `str()` is the one-line reason."""

    exit_status = ExitStatus.SCRIPT_FAILED

    def __init__(self, message: str):
        # One line, always: a multi-line reason would break log parsing and
        # the single-line error contract of SPEC section 7.
        super().__init__(" ".join(str(message).split()))


class BadInput(SupervisorError):
    """The request body or event cannot be turned into an input file."""

    exit_status = ExitStatus.BAD_INPUT


class BadConfig(SupervisorError):
    """The service configuration or the script is missing or invalid."""

    exit_status = ExitStatus.BAD_INPUT


class StorageFailure(SupervisorError):
    """A storage provider could not deliver or accept an object."""

    exit_status = ExitStatus.STORAGE_FAILED


class EnvironmentFailure(SupervisorError):
    """The container failed the invocation (its TMPDIR is read-only or full): a 500, as any
    failure that is not the client's, with the directory and the cause named."""

    exit_status = ExitStatus.SCRIPT_FAILED


class ScriptFailed(SupervisorError):
    """The user script exited non-zero, was killed, or timed out."""

    exit_status = ExitStatus.SCRIPT_FAILED


class Terminated(BaseException):
    """SIGTERM/SIGINT arrived: unwinds through every `finally`, so temp dirs and children are cleaned.

    A BaseException, like gunicorn's HaltServer, so no `except Exception` swallows it.
    """
