"""The one retry policy: bounded attempts, exponential backoff with full jitter, only transient failures."""

from __future__ import annotations

import pytest

from faassupervisor.errors import StorageFailure
from faassupervisor.storage.retry import RetryPolicy, TransientStorageError, is_transient_status


class Flaky:
    """An operation that fails `failures` times with `error`, then returns "done"."""

    def __init__(self, failures: int, error: Exception):
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_transient_failures_are_retried_until_success():
    sleeps = []
    operation = Flaky(3, TransientStorageError("minio.default: cannot upload b/k: SlowDown (HTTP 503)"))
    assert RetryPolicy(attempts=4).call(operation, sleep=sleeps.append) == "done"
    assert operation.calls == 4 and len(sleeps) == 3


def test_attempts_are_bounded_and_the_last_error_is_final():
    sleeps = []
    operation = Flaky(100, TransientStorageError("s3.x: cannot upload b/k: connection reset"))
    with pytest.raises(StorageFailure) as caught:
        RetryPolicy(attempts=5).call(operation, sleep=sleeps.append)
    assert operation.calls == 5 and len(sleeps) == 4
    assert not isinstance(caught.value, TransientStorageError)  # nobody above retries it again
    assert str(caught.value) == "s3.x: cannot upload b/k: connection reset (gave up after 5 attempts)"


def test_final_failures_are_not_retried():
    operation = Flaky(1, StorageFailure("minio.default: cannot download b/k: object not found"))
    with pytest.raises(StorageFailure, match="object not found$"):
        RetryPolicy(attempts=5).call(operation, sleep=lambda s: pytest.fail("slept"))
    assert operation.calls == 1


def test_delays_grow_exponentially_up_to_the_cap_with_full_jitter():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=3.0)
    bounds = [policy.delay(retry, rng=lambda low, high: (low, high)) for retry in range(1, 7)]
    assert bounds == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (0.0, 3.0), (0.0, 3.0)]
    assert all(0.0 <= policy.delay(retry) <= 3.0 for retry in range(1, 50))


def test_a_policy_needs_at_least_one_attempt():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    "status, code, transient",
    [
        (503, None, True),
        (500, "InternalError", True),
        (429, None, True),
        (408, None, True),
        (400, "SlowDown", True),
        (None, "Throttling", True),
        (404, "NoSuchKey", False),
        (403, "AccessDenied", False),
        (400, "InvalidBucketName", False),
        (None, None, False),
    ],
)
def test_what_counts_as_transient(status, code, transient):
    assert is_transient_status(status, code) is transient
