"""Prometheus metrics with the classic watchdog's names, one registry per app.

`http_requests_total` and `http_request_duration_seconds` (labels `code`,
`method`) count the invocation endpoints (not /metrics or /_/health), every
answer included (429, 401, 413, ...); `http_requests_in_flight` is the number
of invocations running now. A registry per app keeps test apps independent.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "Invocations answered, by status code and method",
            ["code", "method"], registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds", "Seconds from request to the end of the response",
            ["code", "method"], registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight", "Invocations running now", registry=self.registry,
        )

    def observe(self, method: str, code: int, seconds: float) -> None:
        self.requests.labels(code=str(code), method=method.lower()).inc()
        self.duration.labels(code=str(code), method=method.lower()).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
