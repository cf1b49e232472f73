"""Cold start and idle footprint of `fwatchdog` in fork-server mode (what a pod scaled from zero pays).

Spawn -> first 200: `fwatchdog` is started, `/_/health` is polled until it
answers 200, then one invocation (`echo hi`, tiny JSON body) is sent; both
times are measured from the spawn, median of `RUNS` starts, each with an empty
config cache, as in a new pod. Beside it, the floor: an interpreter that only
imports what any Flask-on-gunicorn server must (`python -c "import flask,
gunicorn.app.base"`), and `python -c pass`.

Idle footprint: the proportional set size (PSS, `/proc/PID/smaps_rollup`) of
every process of the idle tree once the first request is answered and the
spares are forked: the arbiter, its worker, the fork server and its spares
(each spare shares most of its pages with the fork server; PSS counts each
shared page once across all of them, so the sum is what the tree costs).

Baseline (issue 18, this machine): spawn -> first 200 298 ms (the classic
watchdog + faas-supervisor 1.5.8: 601 ms; the classic watchdog alone: 10 ms);
idle PSS 51 MiB (the classic watchdog: 8 MiB).
"""

from __future__ import annotations

import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_watchdog import environment  # noqa: E402
from tests.watchdog_server import FWATCHDOG, children, free_port  # noqa: E402
from faassupervisor import process_tree  # noqa: E402

RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "10"))
SETTLE = 1.0  # after the first answer: the spares are forked, the tree is idle
BODY = b'{"message": "hi"}'


def _answer(port: int, method: str, path: str, body=None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def idle_pss(arbiter: int) -> Dict[str, List[int]]:
    """PSS (KiB) of each process of the tree, by role."""
    roles: Dict[str, List[int]] = {"arbiter": [_pss_kib(arbiter)], "worker": [], "fork server": [], "spare": []}
    for pid in children(arbiter):
        if b"watchdog.forkserver" in _cmdline(pid):
            roles["fork server"].append(_pss_kib(pid))
            roles["spare"].extend(_pss_kib(spare) for spare in children(pid))
        else:
            roles["worker"].append(_pss_kib(pid))
    return roles


def cold_start(base: Path, index: int) -> dict:
    """One start: ms to health 200, ms to the first invocation's 200, PSS by role."""
    work = base / f"run-{index}"
    work.mkdir()
    env = environment(work, "#!/bin/sh\necho hi\n")
    port = free_port()
    env.update(port=str(port), listen_address="127.0.0.1", healthcheck_interval="0")
    log = open(work / "fwatchdog.log", "wb")
    started = time.perf_counter()
    process = subprocess.Popen([FWATCHDOG], env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    try:
        health = None
        while time.perf_counter() - started < 60:
            if process.poll() is not None:
                raise RuntimeError(f"fwatchdog exited {process.returncode}: {(work / 'fwatchdog.log').read_text()}")
            try:
                if _answer(port, "GET", "/_/health") == 200:
                    health = time.perf_counter()
                    break
            except OSError:
                pass
            time.sleep(0.002)
        if health is None:
            raise RuntimeError("fwatchdog did not become healthy within 60 s")
        status = _answer(port, "POST", "/", BODY)
        first = time.perf_counter()
        time.sleep(SETTLE)
        pss = idle_pss(process.pid)
        return {"health_ms": (health - started) * 1000, "first_ms": (first - started) * 1000,
                "first_status": status, "pss": pss}
    finally:
        process_tree.kill_descendants(process.pid)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


FLOOR = "import flask, gunicorn.app.base"


def floor_ms(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "faassupervisor"), str(ROOT / "watchdog")],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"Median of {RUNS} starts; load: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} CPUs\n")
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as name:
        base = Path(name)
        cold_start(base, -1)  # warm the page cache
        runs = []
        for i in range(RUNS):  # in turns with the floors, so that load hits them alike
            run = cold_start(base, i)
            run.update(floor_ms=floor_ms(FLOOR), pass_ms=floor_ms("pass"))
            runs.append(run)
    failed = sum(run["first_status"] != 200 for run in runs)

    def median(key):
        return statistics.median(run[key] for run in runs)

    ratio = statistics.median(run["first_ms"] / run["floor_ms"] for run in runs)
    print("| from spawn (fork-server mode) | ms (median) |")
    print("|---|---:|")
    print(f"| `/_/health` answers 200 | {median('health_ms'):.0f} |")
    print(f"| first invocation answers 200 | {median('first_ms'):.0f} |")
    print(f"| floor: `python -c \"{FLOOR}\"` | {median('floor_ms'):.0f} |")
    print(f"| `python -c pass` | {median('pass_ms'):.0f} |")
    print(f"\nFirst 200 / floor: {ratio:.2f}x (median of the runs' ratios).")
    if failed:
        print(f"\n{failed} of {RUNS} first invocations after health 200 did not answer 200.")
    print("\n| idle process | count | PSS each (MiB, median) | PSS (MiB) |")
    print("|---|---:|---:|---:|")
    total = 0.0
    for role in ("arbiter", "worker", "fork server", "spare"):
        counts = [len(run["pss"][role]) for run in runs]
        sums = [sum(run["pss"][role]) / 1024 for run in runs]
        each = [kib / 1024 for run in runs for kib in run["pss"][role]]
        if not each:
            continue
        total += statistics.median(sums)
        print(f"| {role} | {statistics.median(counts):g} | {statistics.median(each):.1f} | {statistics.median(sums):.1f} |")
    print(f"| **whole tree** | | | **{total:.1f}** |")
    print("\nGoals (issue 18): spawn -> first 200 <= 150 ms; idle PSS of the tree <= 35 MiB.")


if __name__ == "__main__":
    main()
