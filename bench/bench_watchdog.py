"""Watchdog throughput, latency and memory, through real HTTP on loopback.

Requests/s and p50/p99 latency at concurrency 1, 4 and 16 for a trivial
script (`echo hi`, tiny JSON body), in both fork modes (the pre-imported fork
server, and `python -m faassupervisor` exec'd per request as the classic
watchdog does), plus `fprocess=cat` as the floor of the HTTP layer. Then the
peak memory of watchdog plus supervisor for a 300 MiB base64 body whose file
is copied back as the response.

Load comes from wrk (installed from Debian when missing and possible), else
from a Python generator (threads + keep-alive http.client; slower, so its
figures are a lower bound). Everything stays on 127.0.0.1, each run bounded
by DURATION seconds.

Baseline (issue 3, measured with the OpenFaaS classic watchdog and
faas-supervisor 1.5.8 on the same kind of machine): supervisor 2.39 req/s at
c=1 (p50 413 ms), 3.98 at c=4, 3.18 at c=16; classic watchdog + `cat`
760 / 1370 / 1537 req/s. Targets for the fork server: p50 <= 10 ms at c=1,
>= 300 req/s at c=4, peak RSS <= 100 MiB for the 300 MiB body.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.watchdog_server import WatchdogProcess  # noqa: E402

DURATION = float(os.environ.get("BENCH_DURATION", "5"))
CONCURRENCY = (1, 4, 16)
BODY = b'{"message": "hi"}'
BIG_MIB = int(os.environ.get("BENCH_BIG_MIB", "300"))
BASELINE = {
    "supervisor": {1: ("2.39", "413"), 4: ("3.98", "-"), 16: ("3.18", "-")},
    "cat": {1: ("760", "-"), 4: ("1370", "-"), 16: ("1537", "-")},
}


# ---------------------------------------------------------------- load generators


def ensure_wrk() -> Optional[str]:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    for command in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


def run_wrk(wrk: str, port: int, concurrency: int, work: Path) -> Tuple[float, float, float, int]:
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{BODY.decode()}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [wrk, f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{DURATION:g}s", "--latency", "--timeout", "30s",
         "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=DURATION + 120,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _wrk_ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    p99 = _wrk_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p50, p99, int(errors.group(1)) if errors else 0


def _wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_python(port: int, concurrency: int) -> Tuple[float, float, float, int]:
    latencies: List[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + DURATION

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, bad = [], 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn.request("POST", "/", BODY, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p50, p99, errors[0]


# ---------------------------------------------------------------- setups


def environment(work: Path, script: str) -> Dict[str, str]:
    for sub in ("tmp", "config", "storage", "cache"):
        (work / sub).mkdir(exist_ok=True)
    # As the supervisor makes its default one: a cache open to others is not used at all,
    # and every request would parse function_config.yaml again.
    (work / "cache").chmod(0o700)
    (work / "config" / "script.sh").write_text(script)
    (work / "config" / "function_config.yaml").write_text("name: bench\nlog_level: INFO\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("Http_")}
    env.update(TMPDIR=str(work / "tmp"), FAAS_SUPERVISOR_CONFIG_DIR=str(work / "config"),
               FAAS_SUPERVISOR_STORAGE_DIR=str(work / "storage"), FAAS_SUPERVISOR_CACHE_DIR=str(work / "cache"))
    return env


MODES = (
    ("fork server (supervisor)", "supervisor", {}),
    ("exec `python -m faassupervisor`", "supervisor", {"fprocess": f"{sys.executable} -m faassupervisor"}),
    ("exec `cat` (floor)", "cat", {"fprocess": "cat"}),
)


def throughput(work: Path) -> List[str]:
    wrk = ensure_wrk()
    rows = [
        f"Load generator: {'wrk' if wrk else 'Python threads + http.client (wrk unavailable)'}, "
        f"{DURATION:g} s per cell, {os.cpu_count()} CPU(s), loopback; load average before: "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| mode | concurrency | req/s | p50 ms | p99 ms | non-200 | baseline req/s | baseline p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    env = environment(work, "#!/bin/sh\necho hi\n")
    for title, baseline, variables in MODES:
        server = WatchdogProcess(env, variables, log_dir=str(work)).start()
        try:
            for _ in range(20):  # warm up: caches, first fork, page faults
                server.post("/", BODY)
            for concurrency in CONCURRENCY:
                if wrk:
                    rate, p50, p99, errors = run_wrk(wrk, server.port, concurrency, work)
                else:
                    rate, p50, p99, errors = run_python(server.port, concurrency)
                base_rate, base_p50 = BASELINE[baseline][concurrency]
                rows.append(f"| {title} | {concurrency} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {errors} "
                            f"| {base_rate} | {base_p50} |")
        finally:
            server.terminate()
    return rows


def _memory_kib(pid: int) -> Tuple[int, int]:
    """(RSS, PSS) of one process in KiB. PSS splits pages shared after fork between their sharers,
    so it adds up across the watchdog's forked processes; RSS counts shared pages in each."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def big_body(work: Path) -> List[str]:
    env = environment(work, '#!/bin/sh\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.bin"\n')
    source = work / "big.b64"
    raw_size = BIG_MIB * 3 // 4 * (1 << 20)
    with open(source, "wb") as out:
        chunk = os.urandom(3 << 20)
        for _ in range(raw_size // len(chunk)):
            out.write(base64.b64encode(chunk))
    size = source.stat().st_size
    server = WatchdogProcess(env, {"exec_timeout": "600s"}, log_dir=str(work)).start()
    roles = ("watchdog (arbiter + worker + fork server)", "supervisor and its script", "total")
    peaks = {role: [0, 0] for role in roles}  # [RSS, PSS] KiB
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            mine = {server.pid, *server.workers(), server.forkserver()}
            sums = {role: [0, 0] for role in roles}
            for pid in server.tree():
                rss, pss = _memory_kib(pid)
                role = roles[0] if pid in mine else roles[1]
                for key in (role, "total"):
                    sums[key][0] += rss
                    sums[key][1] += pss
            for role in roles:
                peaks[role] = [max(a, b) for a, b in zip(peaks[role], sums[role])]
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        with open(source, "rb") as body:
            conn.request("POST", "/", body, {"Content-Length": str(size)})
        response = conn.getresponse()
        received = 0
        while True:
            data = response.read(1 << 20)
            if not data:
                break
            received += len(data)
        status = response.status
        conn.close()
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        server.terminate()
        source.unlink()
    rows = [
        f"{size / (1 << 20):.0f} MiB base64 body, its file copied back as the response ({received / (1 << 20):.0f} MiB, "
        f"status {status}) in {elapsed:.1f} s; memory sampled every 20 ms, summed over the processes.",
        "",
        "| processes | peak RSS MiB | peak PSS MiB | target |",
        "|---|---|---|---|",
    ]
    for role, (rss, pss) in peaks.items():
        rows.append(f"| {role} | {rss / 1024:.0f} | {pss / 1024:.0f} | {'<= 100' if role == 'total' else ''} |")
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-watchdog-") as tmp:
        work = Path(tmp)
        (work / "throughput").mkdir()
        for line in throughput(work / "throughput"):
            print(line, flush=True)
        print()
        (work / "big").mkdir()
        for line in big_body(work / "big"):
            print(line, flush=True)


if __name__ == "__main__":
    main()
