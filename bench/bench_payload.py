"""A large base64 payload copied to the output: the supervisor beside the same job done by coreutils.

The job: a body of N MiB of one-line base64 (what oscar-cli and oscar-python
send) is decoded into the input file, the script copies that file to the
output (`cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"`), and the file is sent back
base64-encoded. The floor does the same three steps with coreutils:
`base64 -d`, `cp`, `base64 -w0`. Both read the body from the same file, write
their temp files to the same TMPDIR and their response to /dev/null.

The two run in turns (ours, then coreutils), `RUNS` pairs per size, so that
the load other processes put on the machine hits both alike; the ratio is the
median of the pairs' ratios. Peak RSS is the largest any run reached, as GNU
time reports it (for coreutils, its largest process).
Baseline (issue 18, this machine): ours 1.7-2.0x the coreutils job at 300 MiB.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_supervisor import SUPERVISOR, TIME, _env, _payload, _run  # noqa: E402

SIZES_MIB = tuple(int(size) for size in os.environ.get("BENCH_PAYLOAD_MIB", "10,100,300").split(","))
RUNS = int(os.environ.get("BENCH_PAYLOAD_RUNS", "5"))
SCRIPT = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"\n'
COREUTILS = 'set -e; base64 -d > "$1/in"; mkdir -p "$1/out"; cp "$1/in" "$1/out/"; base64 -w0 "$1/out/in"; rm -r "$1/in" "$1/out"'


def _pair(tmp: Path, body: Path) -> tuple:
    """(ours, coreutils): each a (wall seconds, peak RSS KiB)."""
    ours_wall, ours_rss, code = _run([SUPERVISOR], _env(tmp, SCRIPT), body_path=body, rss=True)
    assert code == 0, f"supervisor exited {code}"
    floor_wall, floor_rss, code = _run(["sh", "-c", COREUTILS, "sh", str(tmp / "floor")], dict(os.environ),
                                       body_path=body, rss=True)
    assert code == 0, f"coreutils job exited {code}"
    return (ours_wall, ours_rss), (floor_wall, floor_rss)


def main() -> None:
    if not os.access(TIME, os.X_OK):
        sys.exit(f"error: {TIME} (GNU time) is needed for the peak RSS: `make bench-tools` installs it")
    print(f"{RUNS} runs of each, in turns; load: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} CPUs\n")
    print("| payload | ours: wall (median) | coreutils: wall (median) | ours / coreutils (median of pairs) "
          "| ours: peak RSS | coreutils: peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-payload-") as name:
        tmp = Path(name)
        (tmp / "floor").mkdir()
        for mib in SIZES_MIB:
            body = _payload(tmp, mib)
            _pair(tmp, body)  # warm-up: page cache, bytecode
            pairs = [_pair(tmp, body) for _ in range(RUNS)]
            body.unlink()
            ours = statistics.median(o[0] for o, _ in pairs)
            floor = statistics.median(f[0] for _, f in pairs)
            ratio = statistics.median(o[0] / f[0] for o, f in pairs)
            ours_rss = max(o[1] for o, _ in pairs) / 1024
            floor_rss = max(f[1] for _, f in pairs) / 1024
            print(f"| {mib} MiB | {ours:.2f} s | {floor:.2f} s | {ratio:.2f}x | {ours_rss:.0f} MiB | {floor_rss:.0f} MiB |",
                  flush=True)
    print("\nGoals (issue 18): 300 MiB at <= 1.0x the coreutils job, peak RSS <= 64 MiB.")


if __name__ == "__main__":
    main()
