"""Body decoding throughput and peak memory, streamed vs. the in-memory way.

Each case runs in a fresh interpreter that generates a 100 MiB body on the fly
from one 1 MiB block and times `decode_body` writing the input file to a temp
directory on tmpfs (`/dev/shm` when writable, so a busy disk does not blur the
figures; the file write is included). Peak RSS is the child's own (`VmHWM`). The "in memory" rows do what the original supervisor did: read the
whole body, then `base64.b64decode` it or `json.loads` it, then write the file.
"""

from __future__ import annotations

import json
import subprocess
import sys

BODY_MIB = 100
RUNS = 3

CHILD = r"""
import base64, json, os, random, sys, tempfile, time
from pathlib import Path

case, mode, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(1)
if case.startswith("base64"):
    raw = os.urandom(3 << 18)
    block = base64.encodebytes(raw) if case == "base64-76" else base64.b64encode(raw)
    head, tail, content_type = b"", b"\n", "text/plain"
elif case == "json-string":
    block = base64.b64encode(os.urandom(3 << 18))
    head, tail, content_type = b'{"image": "', b'"}', "application/json"
elif case == "json-numbers":
    block = json.dumps([random.random() for _ in range(50_000)])[1:-1].encode() + b", "
    head, tail, content_type = b'{"instances": [', b"0]}", "application/json"
elif case == "json-records":
    records = [{"id": i, "name": f"user{i}", "score": random.random(), "tags": ["a", "b"], "ok": True}
               for i in range(12_000)]
    block = json.dumps(records)[1:-1].encode() + b", "
    head, tail, content_type = b"[", b"null]", "application/json"
else:
    block = os.urandom(1 << 20).replace(b"\r\n", b"\n\n")
    head = b'--bound\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
    tail, content_type = b"\r\n--bound--\r\n", "multipart/form-data; boundary=bound"
repeat = max(1, (mib << 20) // len(block))
size = len(head) + repeat * len(block) + len(tail)

def peak_rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

class Body:
    def __init__(self):
        self.pieces = iter([p for p in [head] + [block] * repeat + [tail] if p])
    def read(self, size=-1):
        if size is None or size < 0:
            return b"".join(self.pieces)
        return next(self.pieces, b"")

# tmpfs when there is one: the figures are about decoding, not about the disk.
with tempfile.TemporaryDirectory(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None) as tmp:
    started = time.perf_counter()
    if mode == "streamed":
        from faassupervisor.events.body import decode_body
        decode_body(Body(), content_type, Path(tmp))
    else:
        body = Body().read()
        if case.startswith("json"):
            json.loads(body)
            output = body
        else:
            output = base64.b64decode(body)
        with open(Path(tmp) / "event_file", "wb") as out:
            out.write(output)
    seconds = time.perf_counter() - started
print(json.dumps({"mb_s": size / seconds / 1e6, "seconds": seconds, "peak_rss_mib": peak_rss_kib() / 1024,
                  "size_mib": size / (1 << 20)}))
"""

CASES = [
    ("base64", "base64, one line"),
    ("base64-76", "base64, 76-column lines"),
    ("json-string", "JSON, one big string"),
    ("json-numbers", "JSON, array of numbers (a tensor)"),
    ("json-records", "JSON, array of small records"),
    ("multipart", "multipart/form-data, one file"),
]
IN_MEMORY = ("base64", "json-string", "json-numbers", "json-records")


def _measure(case: str, mode: str) -> dict:
    """The fastest of RUNS (as timeit does: other load only ever slows a run down),
    with the highest peak RSS seen."""
    runs = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", CHILD, case, mode, str(BODY_MIB)],
            capture_output=True, text=True, check=True, timeout=600,
        )
        runs.append(json.loads(result.stdout))
    runs.sort(key=lambda run: run["seconds"])
    return dict(runs[0], peak_rss_mib=max(run["peak_rss_mib"] for run in runs))


def main() -> None:
    print(f"Decoding a {BODY_MIB} MiB body into the input file (fresh process per run, best of {RUNS}).\n")
    print("| body | how | MB/s | seconds | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|")
    for case, label in CASES:
        modes = ("streamed", "in memory") if case in IN_MEMORY else ("streamed",)
        for mode in modes:
            row = _measure(case, "streamed" if mode == "streamed" else "memory")
            how = "decode_body (streamed)" if mode == "streamed" else "whole body in memory (the original's way)"
            print(f"| {label} | {how} | {row['mb_s']:.0f} | {row['seconds']:.2f} | {row['peak_rss_mib']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
