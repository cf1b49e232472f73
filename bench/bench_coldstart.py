"""Cold start and idle footprint of `fwatchdog` in fork-server mode (what a pod scaled from zero pays).

Spawn -> first 200: `fwatchdog` is started, `/_/health` is polled until it
answers 200, then one invocation (`echo hi`, tiny JSON body) is sent; both
times are measured from the spawn, median of `RUNS` starts, each with an empty
config cache, as in a new pod. Beside it, the floor: an interpreter that only
imports what any Flask-on-gunicorn server must (`python -c "import flask,
gunicorn.app.base"`), `python -c pass`, and a hello-world Flask app on
gunicorn (one gthread worker): its first 200, and its idle PSS beside ours.

Idle footprint: the proportional set size (PSS, `/proc/PID/smaps_rollup`) of
every process of the idle tree once the first request is answered and the
spares are forked: the arbiter, its worker, the fork server and its spares
(each spare shares most of its pages with the fork server; PSS counts each
shared page once across all of them, so the sum is what the tree costs).

`BENCH_COLDSTART_BEFORE=<dir>` (a checkout of an older revision, e.g. from
`git archive`) adds its starts in turns with ours, run from that directory
with it first on PYTHONPATH, so both columns see the same load.

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

from bench_soak import _pss_kib  # noqa: E402
from bench_watchdog import environment  # noqa: E402
from tests.watchdog_server import FWATCHDOG, _cmdline, children, free_port  # noqa: E402
from faassupervisor import process_tree  # noqa: E402

RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "10"))
SETTLE = 4.0  # after the first answer: the spares are forked, the warm-ups done, the tree idle
BEFORE = os.environ.get("BENCH_COLDSTART_BEFORE")
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


def _first_200(process: subprocess.Popen, port: int, path: str, started: float, log: Path) -> float:
    """When `GET path` first answered 200 (polled every 2 ms); RuntimeError if the server exits
    first (with its log) or has not answered within a minute."""
    while time.perf_counter() - started < 60:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited {process.returncode}: {log.read_text()}")
        try:
            if _answer(port, "GET", path) == 200:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"{process.args[0]}: GET {path} did not answer 200 within 60 s")


def idle_pss(arbiter: int) -> Dict[str, List[int]]:
    """PSS (KiB) of each process of the tree, by role."""
    roles: Dict[str, List[int]] = {"arbiter": [_pss_kib(arbiter)], "worker": [], "fork server": [], "spare": []}
    for pid in children(arbiter):
        if b"fwatchdog.forkserver" in _cmdline(pid):
            roles["fork server"].append(_pss_kib(pid))
            roles["spare"].extend(_pss_kib(spare) for spare in children(pid))
        else:
            roles["worker"].append(_pss_kib(pid))
    return roles


def cold_start(base: Path, index, tree=None) -> dict:
    """One start (of the checkout in `tree`, else this one): ms to health 200, ms to the first
    invocation's 200, PSS by role."""
    work = base / f"run-{index}"
    work.mkdir()
    env = environment(work, "#!/bin/sh\necho hi\n")
    port = free_port()
    env.update(port=str(port), listen_address="127.0.0.1", healthcheck_interval="0")
    if tree:
        env["PYTHONPATH"] = tree
    log = open(work / "fwatchdog.log", "wb")
    started = time.perf_counter()
    process = subprocess.Popen([FWATCHDOG], env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=tree)
    log.close()
    try:
        health = _first_200(process, port, "/_/health", started, work / "fwatchdog.log")
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

# The least any Flask-on-gunicorn server is: a hello-world app, one gthread worker with our
# thread count, gunicorn's defaults otherwise (the arbiter does not import the app). Its
# spawn -> first 200 and idle tree PSS are the floor of both of issue 18's goals for the stack
# the project chose, measured here beside ours.
HELLO_APP = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "hello"
"""


def hello_world(base: Path, index) -> dict:
    """One start of the hello-world Flask app on gunicorn: ms to its first 200, PSS of its tree."""
    work = base / f"hello-{index}"
    work.mkdir()
    (work / "hello.py").write_text(HELLO_APP)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
               "--threads", "4", "--bind", f"127.0.0.1:{port}", "hello:app"]
    log = open(work / "gunicorn.log", "wb")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    try:
        first = _first_200(process, port, "/", started, work / "gunicorn.log")
        time.sleep(SETTLE)
        tree = [process.pid, *children(process.pid)]
        return {"first_ms": (first - started) * 1000, "pss_mib": sum(_pss_kib(pid) for pid in tree) / 1024,
                "processes": len(tree)}
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def floor_ms(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "faassupervisor"), str(ROOT / "watchdog")],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"Median of {RUNS} starts; load: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} CPUs\n")
    columns = {"this checkout": None} if not BEFORE else {"before": BEFORE, "this checkout": None}
    runs = {label: [] for label in columns}
    hello: List[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as name:
        base = Path(name)
        for label, tree in columns.items():
            cold_start(base, f"{label}-warm", tree)  # the page cache
        for i in range(RUNS):  # in turns (and with the floors), so that load hits all alike
            floor, bare = floor_ms(FLOOR), floor_ms("pass")
            for label, tree in columns.items():
                run = cold_start(base, f"{label}-{i}", tree)
                run.update(floor_ms=floor, pass_ms=bare)
                runs[label].append(run)
            hello.append(hello_world(base, i))

    def median(label, key):
        return statistics.median(run[key] for run in runs[label])

    def row(title, cells):
        print(f"| {title} | " + " | ".join(cells) + " |")

    row("from spawn (fork-server mode), ms (median)", list(columns))
    row("---", ["---:"] * len(columns))
    row("`/_/health` answers 200", [f"{median(c, 'health_ms'):.0f}" for c in columns])
    row("first invocation answers 200", [f"{median(c, 'first_ms'):.0f}" for c in columns])
    row("first 200 / floor (median of the runs' ratios)",
        [f"{statistics.median(r['first_ms'] / r['floor_ms'] for r in runs[c]):.2f}x" for c in columns])
    print(f"\nFloor, in turns with the starts: `python -c \"{FLOOR}\"` {median('this checkout', 'floor_ms'):.0f} ms, "
          f"`python -c pass` {median('this checkout', 'pass_ms'):.0f} ms.")
    print(f"A hello-world Flask app on gunicorn (1 gthread worker, in turns with the starts): first 200 "
          f"{statistics.median(h['first_ms'] for h in hello):.0f} ms, idle PSS of its "
          f"{hello[0]['processes']} processes {statistics.median(h['pss_mib'] for h in hello):.1f} MiB.")
    for label in columns:
        failed = sum(run["first_status"] != 200 for run in runs[label])
        if failed:
            print(f"\n{label}: {failed} of {RUNS} first invocations after health 200 did not answer 200.")
    print()
    row("idle PSS (MiB, median): process", [f"{c}: count | {c}: each | {c}: all" for c in columns])
    row("---", ["---: | ---: | ---:"] * len(columns))
    totals = {c: 0.0 for c in columns}
    for role in ("arbiter", "worker", "fork server", "spare"):
        cells = []
        for label in columns:
            counts = [len(run["pss"][role]) for run in runs[label]]
            sums = [sum(run["pss"][role]) / 1024 for run in runs[label]]
            each = [kib / 1024 for run in runs[label] for kib in run["pss"][role]] or [0.0]
            totals[label] += statistics.median(sums)
            cells.append(f"{statistics.median(counts):g} | {statistics.median(each):.1f} | {statistics.median(sums):.1f}")
        row(role, cells)
    row("**whole tree**", [f" | | **{totals[c]:.1f}**" for c in columns])
    print("\nGoals (issue 18): spawn -> first 200 <= 150 ms; idle PSS of the tree <= 35 MiB.")


if __name__ == "__main__":
    main()
