"""A/B of the fork server's throughput at c=4: this checkout against another revision, run in turns.

This VM's speed drifts by a quarter within minutes, so two whole `make bench`
runs cannot tell a 5 % change from the drift. Short runs of both versions in
turns (ABBA: old then new, new then old, ...) and the median of each pair's
ratio can. Each run starts one version's watchdog with the bench's workload
(`echo hi`, tiny JSON body, wrk at c=4) and reports its requests/s and the
whole machine's CPU per request (from /proc/stat: both CPUs are busy, so that
is what bounds the rate). `BENCH_POD_VARIABLES=400` adds that many variables
to the watchdog's environment, as Kubernetes gives a pod a few per Service in
its namespace.

Each version runs with PYTHONPATH set to its own tree and from a neutral
working directory: `python -m fwatchdog.forkserver` puts its working directory
first on sys.path, so a fork server started from a checkout imports that
checkout whatever PYTHONPATH says (and would serve both sides of the A/B).

    make bench-ab OLD=<revision> [PAIRS=6]      # python bench/ab_watchdog.py REVISION [PAIRS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_watchdog as bench  # noqa: E402  (its workload, wrk and watchdog harness)

CONCURRENCY = 4
RUN_SECONDS = float(os.environ.get("BENCH_DURATION", "4"))
POD_VARIABLES = int(os.environ.get("BENCH_POD_VARIABLES", "0"))
WARM_UP_REQUESTS = 50


def busy_jiffies() -> int:
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in open("/proc/stat").readline().split()[1:8])
    return user + nice + system + irq + softirq


def pod_variables(count: int) -> dict:
    """`count` variables like those Kubernetes sets for the Services of a pod's namespace."""
    variables = {}
    for index in range(count // 2):
        address = f"10.96.{index // 250}.{index % 250 + 1}"
        variables[f"SERVICE_{index}_SERVICE_HOST"] = address
        variables[f"SERVICE_{index}_PORT_8080_TCP"] = f"tcp://{address}:8080"
    return variables


def one_run(tree: Path, wrk: str) -> tuple:
    """(requests/s, CPU ms per request) of the watchdog in `tree`."""
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        work = Path(tmp)
        env = bench.environment(work, "#!/bin/sh\necho hi\n")
        env["PYTHONPATH"] = str(tree)
        env.update(pod_variables(POD_VARIABLES))
        home = os.getcwd()
        os.chdir(work)  # neutral: see the module's docstring
        # The tree's own package: `fwatchdog`, or `watchdog` before it took that name.
        package = "fwatchdog" if (tree / "fwatchdog").exists() else "watchdog"
        command = [sys.executable, "-c", f"import sys; from {package}.__main__ import main; sys.exit(main())"]
        server = bench.WatchdogProcess(env, {}, log_dir=str(work), command=command).start()
        try:
            for _ in range(WARM_UP_REQUESTS):
                answer = server.post("/", bench.BODY)
                if answer.status != 200:
                    raise SystemExit(f"{tree}: a warm-up request got {answer.status}: {answer.body[:200]!r}")
            before = busy_jiffies()
            rate, _p50, _p99, errors = bench.run_wrk(wrk, server.port, CONCURRENCY, work)
            cpu_seconds = (busy_jiffies() - before) / os.sysconf("SC_CLK_TCK")
        finally:
            server.terminate()
            os.chdir(home)
        if errors:
            raise SystemExit(f"{tree}: {errors} requests did not get a 200")
        return rate, cpu_seconds / (rate * bench.DURATION) * 1000


def main(argv) -> int:
    if not 1 <= len(argv) <= 2:
        sys.stderr.write("usage: python bench/ab_watchdog.py REVISION [PAIRS]\n")
        return 2
    revision, pairs = argv[0], int(argv[1]) if len(argv) == 2 else 6
    wrk = bench.ensure_wrk()
    if wrk is None:
        sys.stderr.write("bench/ab_watchdog.py needs wrk (Debian: apt-get install wrk)\n")
        return 1
    bench.DURATION = RUN_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-ab-tree-") as tmp:
        old_tree = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(old_tree), revision],
                       check=True)
        try:
            runs = {"old": [], "new": []}
            extra = f", {POD_VARIABLES} extra variables in the environment" if POD_VARIABLES else ""
            print(f"Alternating {RUN_SECONDS:g} s runs at c={CONCURRENCY}{extra}: {revision} (old) against this checkout (new).")
            print()
            print("| pair | old req/s | new req/s | new/old | old CPU ms/req | new CPU ms/req |")
            print("|---|---|---|---|---|---|")
            for pair in range(pairs):
                order = ("old", "new") if pair % 2 == 0 else ("new", "old")
                for side in order:
                    runs[side].append(one_run(old_tree if side == "old" else ROOT, wrk))
                (old_rate, old_cpu), (new_rate, new_cpu) = runs["old"][-1], runs["new"][-1]
                print(f"| {pair + 1} | {old_rate:.0f} | {new_rate:.0f} | {new_rate / old_rate:.3f} "
                      f"| {old_cpu:.2f} | {new_cpu:.2f} |", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)], check=False)
    ratios = [new[0] / old[0] for old, new in zip(runs["old"], runs["new"])]
    print()
    print(f"Medians: old {statistics.median(r for r, _ in runs['old']):.0f} req/s, "
          f"{statistics.median(c for _, c in runs['old']):.2f} ms CPU/request; "
          f"new {statistics.median(r for r, _ in runs['new']):.0f} req/s, "
          f"{statistics.median(c for _, c in runs['new']):.2f} ms CPU/request; "
          f"median of the pairs' ratios {statistics.median(ratios):.3f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
