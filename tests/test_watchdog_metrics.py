"""The /metrics text: Prometheus' exposition format, written by fwatchdog.metrics itself."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

from fwatchdog.metrics import BUCKETS, Metrics

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def samples(text: str) -> dict:
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        name, labels, value = SAMPLE.match(line).groups()
        found[name + (labels or "")] = float(value)
    return found


def test_counts_histogram_and_gauge():
    metrics = Metrics()
    metrics.in_flight.inc()
    metrics.in_flight.inc()
    metrics.in_flight.dec()
    for seconds in (0.001, 0.02, 0.3, 20.0):
        metrics.observe("POST", 200, seconds)
    metrics.observe("GET", 401, 0.0)
    text = metrics.render().decode()
    found = samples(text)
    assert found['http_requests_total{code="200",method="post"}'] == 4
    assert found['http_requests_total{code="401",method="get"}'] == 1
    assert found["http_requests_in_flight"] == 1
    buckets = [found[f'http_request_duration_seconds_bucket{{code="200",le="{b!r}",method="post"}}'] for b in BUCKETS]
    assert buckets == sorted(buckets) and buckets[0] == 1 and buckets[-1] == 3  # cumulative; 20 s is above them all
    assert found['http_request_duration_seconds_bucket{code="200",le="+Inf",method="post"}'] == 4
    assert found['http_request_duration_seconds_count{code="200",method="post"}'] == 4
    assert abs(found['http_request_duration_seconds_sum{code="200",method="post"}'] - 20.321) < 1e-9
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert Metrics.content_type.startswith("text/plain; version=0.0.4")


def test_counting_from_many_threads_loses_nothing():
    metrics = Metrics()

    def work():
        for _ in range(1000):
            metrics.in_flight.inc()
            metrics.observe("POST", 200, 0.01)
            metrics.in_flight.dec()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = samples(metrics.render().decode())
    assert found['http_requests_total{code="200",method="post"}'] == 8000
    assert found["http_requests_in_flight"] == 0


def test_the_app_imports_no_prometheus_client():
    # Three series do not need it: its import was a tenth of the watchdog's start-up.
    code = "import sys; import fwatchdog.app; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "False\n"), done.stderr


def test_prometheus_clients_own_parser_reads_the_text():
    # prometheus_client is only a test tool now: its parser is the oracle for our writer.
    from prometheus_client.parser import text_string_to_metric_families

    metrics = Metrics()
    metrics.in_flight.inc()
    metrics.observe("POST", 500, 0.3)
    metrics.observe('GE"T\\', 200, 0.004)  # a method with characters the format escapes
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    assert families["http_requests"].type == "counter"
    assert families["http_request_duration_seconds"].type == "histogram"
    assert families["http_requests_in_flight"].samples[0].value == 1
    totals = {(s.labels["code"], s.labels["method"]): s.value
              for s in families["http_requests"].samples if s.name == "http_requests_total"}
    assert totals == {("500", "post"): 1.0, ("200", 'ge"t\\'): 1.0}
    buckets = [s for s in families["http_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["code"] == "500"]
    assert [s.labels["le"] for s in buckets][-1] == "+Inf" and len(buckets) == len(BUCKETS) + 1
