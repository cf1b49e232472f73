"""Retrying storage operations: one policy, one notion of "transient", for every provider.

Providers translate their SDK's exceptions into `StorageFailure` (give up) or
`TransientStorageError` (worth another attempt), deciding which with
`is_transient_status` so that every provider agrees on what a passing failure
is. The retry loop itself lives here and nowhere else: the SDKs' own retries are
switched off, so an object is attempted at most `RetryPolicy.attempts` times
whichever provider holds it, and every retry is logged the same way.
"""

from __future__ import annotations

import logging
import time

from faassupervisor.errors import StorageFailure

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Callable, Optional, TypeVar

    T = TypeVar("T")

log = logging.getLogger(__name__)

# HTTP statuses a later attempt may not get: timeouts, throttling, server errors.
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# S3-style error codes meaning "slow down" or "try again" (AWS, MinIO, Ceph).
TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalError",
        "OperationAborted",
        "RequestLimitExceeded",
        "RequestTimeout",
        "ServiceUnavailable",
        "SlowDown",
        "SlowDownRead",
        "SlowDownWrite",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "XMinioServerNotInitialized",
    }
)


class TransientStorageError(StorageFailure):
    """A failure another attempt may not see: connection refused or reset, timeout, 5xx, throttling."""


def is_transient_status(status: Optional[int], code: Optional[str] = None) -> bool:
    """Whether an HTTP status (or an S3 error code) is worth retrying."""
    return (status is not None and status in TRANSIENT_HTTP_STATUSES) or (code in TRANSIENT_ERROR_CODES)


class RetryPolicy:
    """Bounded exponential backoff with full jitter (each delay uniform in [0, cap])."""

    __slots__ = ("attempts", "base_delay", "max_delay")

    def __init__(self, attempts: int = 5, base_delay: float = 0.2, max_delay: float = 5.0):
        if attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        self.attempts = attempts
        self.base_delay = base_delay  # seconds; the cap doubles per retry: 0.2, 0.4, 0.8, 1.6 ...
        self.max_delay = max_delay

    def delay(self, retry: int, rng: Optional[Callable[[float, float], float]] = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if rng is None:
            import random  # deferred: tests/test_supervisor_startup.py

            rng = random.uniform
        # Full jitter: concurrent uploads that failed together do not retry together.
        return rng(0.0, min(self.max_delay, self.base_delay * (2 ** (retry - 1))))

    def call(self, operation: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run `operation`, retrying TransientStorageError; the last failure is raised as StorageFailure.

        The errors name provider, bucket and key already, so they are logged as they are.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except TransientStorageError as err:
                if attempt == self.attempts:
                    raise StorageFailure(f"{err} (gave up after {attempt} attempts)") from None
                wait = self.delay(attempt)
                log.warning("%s; retry %d of %d in %.1f s", err, attempt, self.attempts - 1, wait)
                sleep(wait)
        raise AssertionError("unreachable")


DEFAULT_POLICY = RetryPolicy()
