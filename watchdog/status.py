"""The one table from invocation outcomes to HTTP statuses.

Only the watchdog turns exit statuses into HTTP statuses, and only here. The
supervisor's own exit statuses (`faassupervisor.errors.ExitStatus`) get their
specific answers (400 bad input, 500 with the one-line reason for storage);
any other command run in exec mode is a plain program, for which every
non-zero exit is a 500, as classic.

A storage failure is a 500, not a 502: oscar-cli (pkg/cluster/cluster.go
CheckStatusCode) prints "the service is not ready yet" for any 502 and hides
the body, so users never saw `error: minio.default: ...`. It stays its own
outcome, so logs and metrics still tell it from a failed script.
"""

from __future__ import annotations

import enum
from http import HTTPStatus

from faassupervisor.errors import ExitStatus


class Outcome(enum.Enum):
    """Why a request ended the way it did; each has exactly one HTTP status (several may share one)."""

    _status: int  # not a member: an annotation without a value

    def __new__(cls, status: HTTPStatus):
        # Numbered in order, the status kept aside: members that share a status stay distinct
        # members instead of becoming aliases of the first.
        member = object.__new__(cls)
        member._value_ = len(cls.__members__)
        member._status = int(status)
        return member

    SUCCEEDED = HTTPStatus.OK
    JOB_ACCEPTED = HTTPStatus.CREATED
    BAD_INPUT = HTTPStatus.BAD_REQUEST
    UNAUTHORIZED = HTTPStatus.UNAUTHORIZED
    UNKNOWN_SERVICE = HTTPStatus.NOT_FOUND
    METHOD_NOT_ALLOWED = HTTPStatus.METHOD_NOT_ALLOWED
    TIMED_OUT = HTTPStatus.REQUEST_TIMEOUT  # exec_timeout or read_timeout; classic's answer to a timeout
    BODY_TOO_LARGE = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    TOO_MANY = HTTPStatus.TOO_MANY_REQUESTS  # max_inflight reached, or the job queue is full
    FAILED = HTTPStatus.INTERNAL_SERVER_ERROR
    STORAGE_FAILED = HTTPStatus.INTERNAL_SERVER_ERROR  # supervisor exit 3: see the module's docstring
    UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE  # draining after SIGTERM, or the fork server restarting

    @property
    def status(self) -> int:
        return self._status


_SUPERVISOR_EXITS: dict[int, Outcome] = {
    ExitStatus.SUCCESS: Outcome.SUCCEEDED,
    ExitStatus.SCRIPT_FAILED: Outcome.FAILED,
    ExitStatus.BAD_INPUT: Outcome.BAD_INPUT,
    ExitStatus.STORAGE_FAILED: Outcome.STORAGE_FAILED,
}


def outcome_of_exit(exit_status: int, supervisor: bool) -> Outcome:
    """The outcome of a process that exited on its own (negative: killed by that signal)."""
    if exit_status == 0:
        return Outcome.SUCCEEDED
    if supervisor:
        return _SUPERVISOR_EXITS.get(exit_status, Outcome.FAILED)
    return Outcome.FAILED
