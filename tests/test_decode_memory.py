"""Memory stays flat: a subprocess decodes a 200 MiB body of each kind with a
peak RSS under 64 MiB (the original supervisor needed about 4-5x the payload)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PEAK_RSS_LIMIT_MIB = 64
BODY_MIB = 200

# Runs in a fresh interpreter: the body is generated on the fly from one 1 MiB
# block, so the only memory that can grow is the decoder's.
CHILD = r"""
import base64, json, os, resource, sys, tempfile
from pathlib import Path
from faassupervisor.events.body import decode_body

kind, mib = sys.argv[1], int(sys.argv[2])
if kind == "base64":
    block = base64.b64encode(os.urandom(3 << 18))  # exactly 1 MiB, no padding
    head, tail, content_type = b"", b"\n", "text/plain"
elif kind == "json":
    block = base64.b64encode(os.urandom(3 << 18))
    head, tail, content_type = b'{"image": "', b'"}', "application/json"
else:
    block = os.urandom(1 << 20).replace(b"\r\n", b"\n\n")
    head = b'--bound\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
    tail, content_type = b"\r\n--bound--\r\n", "multipart/form-data; boundary=bound"

class Body:
    def __init__(self):
        self.pieces = iter([p for p in [head] + [block] * mib + [tail] if p])  # b"" means the end
    def read(self, size):
        return next(self.pieces, b"")

def peak_rss_kib():
    # VmHWM belongs to this process image; ru_maxrss would also count the
    # parent's memory (Linux keeps it across vfork + exec).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

with tempfile.TemporaryDirectory() as tmp:
    decoded = decode_body(Body(), content_type, Path(tmp))
    print(json.dumps({"kind": decoded.kind, "size": decoded.size, "peak_rss_kib": peak_rss_kib()}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind,expected_size", [
    ("base64", BODY_MIB * (3 << 18)),
    ("json", len(b'{"image": "') + BODY_MIB * (1 << 20) + len(b'"}')),
    ("multipart", BODY_MIB * (1 << 20)),
])
def test_peak_rss_stays_flat_for_a_200_mib_body(kind, expected_size):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(BODY_MIB)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == kind
    assert report["size"] == expected_size
    peak_mib = report["peak_rss_kib"] / 1024
    assert peak_mib < PEAK_RSS_LIMIT_MIB, f"peak RSS {peak_mib:.1f} MiB decoding {BODY_MIB} MiB of {kind}"
