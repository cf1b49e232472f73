"""Prometheus metrics with the classic watchdog's names, one set per app.

`http_requests_total` and `http_request_duration_seconds` (labels `code`,
`method`) count the invocation endpoints (not /metrics or /_/health), every
answer included (429, 401, 413, ...); `http_requests_in_flight` is the number
of invocations running now. One set per app keeps test apps independent.

Rendered here in Prometheus' text exposition format (version 0.0.4, what the
classic watchdog's Go client serves): three series with fixed labels do not
need prometheus_client, whose import was a tenth of the watchdog's start-up
(on the way to a cold pod's first answer) and 1.2 MiB of its memory.
"""

from __future__ import annotations

import threading

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# prometheus_client's (and the Go client's) default buckets, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_REQUESTS = ("http_requests_total", "Invocations answered, by status code and method")
_DURATION = ("http_request_duration_seconds", "Seconds from request to the end of the response")
_IN_FLIGHT = ("http_requests_in_flight", "Invocations running now")


class Gauge:
    """A value that goes up and down (from the worker's threads)."""

    def __init__(self, lock: threading.Lock):
        self._lock = lock
        self.value = 0.0

    def inc(self) -> None:
        with self._lock:
            self.value += 1

    def dec(self) -> None:
        with self._lock:
            self.value -= 1


class Metrics:
    content_type = CONTENT_TYPE

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = {}  # (code, method) -> count
        self._durations = {}  # (code, method) -> [count per bucket (cumulative)..., count, sum]
        self.in_flight = Gauge(self._lock)

    def observe(self, method: str, code: int, seconds: float) -> None:
        key = (str(code), method.lower())
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            series = self._durations.get(key)
            if series is None:
                series = self._durations[key] = [0] * len(BUCKETS) + [0, 0.0]
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    series[index] += 1
            series[-2] += 1
            series[-1] += seconds

    def render(self) -> bytes:
        with self._lock:
            requests = sorted(self._requests.items())
            durations = sorted((key, list(series)) for key, series in self._durations.items())
            in_flight = self.in_flight.value
        lines = _header(*_REQUESTS, "counter")
        lines += [f"{_REQUESTS[0]}{_labels(code=c, method=m)} {_number(n)}" for (c, m), n in requests]
        lines += _header(*_DURATION, "histogram")
        name = _DURATION[0]
        for (c, m), series in durations:
            for bound, count in zip(BUCKETS, series):
                lines.append(f"{name}_bucket{_labels(code=c, le=_number(bound), method=m)} {_number(count)}")
            lines.append(f"{name}_bucket{_labels(code=c, le='+Inf', method=m)} {_number(series[-2])}")
            lines.append(f"{name}_count{_labels(code=c, method=m)} {_number(series[-2])}")
            lines.append(f"{name}_sum{_labels(code=c, method=m)} {_number(series[-1])}")
        lines += _header(*_IN_FLIGHT, "gauge")
        lines.append(f"{_IN_FLIGHT[0]} {_number(in_flight)}")
        return ("\n".join(lines) + "\n").encode()


def _header(name: str, help_text: str, kind: str) -> list:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _labels(**labels: str) -> str:
    """`{a="1",b="2"}`; values escaped as the format asks (backslash, quote, newline)."""
    pairs = (f'{key}="{_escaped(value)}"' for key, value in labels.items())
    return "{" + ",".join(pairs) + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value) -> str:
    """Floats as Python's repr (`1.0`, `0.012`), as prometheus_client wrote them."""
    return repr(float(value))
