"""Supervisor start-up and large-payload cost, as a whole process (what every request pays).

Start-up: wall time of `supervisor` for `echo hi` with a tiny JSON body, median
of 30, beside `python -c pass`. Payloads: peak RSS (the supervisor's own,
reported by GNU time) and wall time for 10/100/300 MiB base64 bodies, with a script that
copies its input to the output (the response is the file, base64 again) and
with one that writes nothing (the response is the logs).
Baseline (faas-supervisor 1.5.8, same machine kind): 388 ms start; peak RSS
5.2x the payload at 300 MiB with the copy script, 3.9x with no output; 4.69 s
for the 300 MiB copy.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SUPERVISOR = str(BIN / "supervisor")
RUNS = 30
SIZES_MIB = (10, 100, 300)


def _env(tmp: Path, script: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.update(
        SCRIPT=base64.b64encode(script.encode()).decode(),
        FUNCTION_CONFIG=base64.b64encode(b"name: bench\nlog_level: INFO\n").decode(),
        FAAS_SUPERVISOR_CONFIG_DIR=str(tmp / "no-config"),
        TMPDIR=str(tmp),
    )
    return env


TIME = "/usr/bin/time"


def _run(cmd, env, body_path=None, body=b"", rss=False):
    """(wall seconds, peak RSS in KiB, exit status) of one process.

    Peak RSS comes from GNU time's report on its own child: a child's
    ru_maxrss as *we* would read it with wait4 starts at our (the benchmark's)
    size, which Linux carries across fork and exec.
    """
    report = None
    if rss:
        report = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)
        report.close()
        cmd = [TIME, "-f", "%M", "-o", report.name, *cmd]
    stdin = open(body_path, "rb") if body_path else subprocess.PIPE
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if body_path is None:
        proc.stdin.write(body)
        proc.stdin.close()
    else:
        stdin.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss
    if report is not None:
        peak = int(Path(report.name).read_text().split()[-1])
        os.unlink(report.name)
    return wall, peak, proc.returncode


def _median_ms(cmd, env, body=b"") -> float:
    times = []
    for _ in range(RUNS):
        wall, _rss, code = _run(cmd, env, body=body)
        assert code == 0, f"{cmd} exited {code}"
        times.append(wall)
    return statistics.median(times) * 1000


def _payload(tmp: Path, mib: int) -> Path:
    path = tmp / f"body-{mib}.b64"
    with open(path, "wb") as out:
        block = os.urandom(3 << 20)  # 3 MiB raw -> 4 MiB base64; repeated is fine for a copy test
        for _ in range(mib * 1024 * 1024 // len(block) + 1):
            out.write(base64.b64encode(block))
    with open(path, "r+b") as out:
        out.truncate(mib * 1024 * 1024 // 4 * 4)
    return path


def main() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "faassupervisor")],
                   check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="bench-supervisor-") as name:
        tmp = Path(name)
        env = _env(tmp, "echo hi\n")
        _run([sys.executable, "-c", "pass"], env)  # warm the page cache
        python_ms = _median_ms([sys.executable, "-c", "pass"], env)
        start_ms = _median_ms([SUPERVISOR], env, body=b'{"message": "hi"}')
        print("| start-up (median of 30) | faas-supervisor 1.5.8 | this |")
        print("|---|---|---|")
        print(f"| `python -c pass` | 11 ms | {python_ms:.1f} ms |")
        print(f"| `supervisor`, `echo hi`, tiny JSON body | 388 ms | {start_ms:.1f} ms |")
        print()
        print("| payload (base64 body) | script | wall | peak RSS | RSS / payload |")
        print("|---|---|---|---|---|")
        scripts = {
            "copy to output": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/out"\n',
            "no output": 'wc -c < "$INPUT_FILE_PATH"\n',
        }
        for mib in SIZES_MIB:
            body = _payload(tmp, mib)
            for label, script in scripts.items():
                wall, rss_kib, code = _run([SUPERVISOR], _env(tmp, script), body_path=body, rss=True)
                assert code == 0, f"{label} {mib} MiB exited {code}"
                print(f"| {mib} MiB | {label} | {wall:.2f} s | {rss_kib / 1024:.0f} MiB | {rss_kib / 1024 / mib:.2f}x |")
            body.unlink()
        print()
        print("Baseline at 300 MiB (1.5.8): copy 4.69 s, 1554 MiB (5.2x); no output 3.9x. "
              "Targets: start <= 50 ms, peak RSS <= 64 MiB at any size, 300 MiB copy <= 1.5 s.")


if __name__ == "__main__":
    main()
