"""A 300 MiB output goes up as a multipart upload while the supervisor's memory stays flat."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import SUPERVISOR
from tests.storage_servers import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: F401 - fixture

MiB = 1024 * 1024
SIZE = 300 * MiB

# Runs the supervisor as its only child and prints the child's peak RSS in KiB
# (ru_maxrss of the waited-for children: the supervisor and the script it ran).
_PEAK_RSS = """
import resource, subprocess, sys
with open(sys.argv[2], "wb") as err:
    code = subprocess.run([sys.argv[1]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["minio", "s3"])
def test_a_300_mib_output_is_uploaded_in_parts_with_flat_memory(kind, sandbox, s3_server, tmp_path):
    bucket = s3_server.bucket("large")
    sandbox.write_script('#!/bin/sh\nhead -c 314572800 /dev/urandom > "$TMP_OUTPUT_DIR/large.bin"\n')
    sandbox.write_config(
        yaml.safe_dump(
            {
                "log_level": "INFO",
                "output": [{"storage_provider": f"{kind}.default", "path": f"{bucket}/big"}],
                "storage_providers": {
                    kind: {"default": {"endpoint": s3_server.url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}}
                },
            }
        )
    )
    env = dict(sandbox.env, EVENT=json.dumps({"start": True}))
    stderr = tmp_path / "stderr.log"
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, SUPERVISOR, str(stderr)], env=env, capture_output=True, text=True, timeout=300
    )
    code, peak_kib = map(int, result.stdout.split())
    assert code == 0, stderr.read_text()
    head = s3_server.client.head_object(Bucket=bucket, Key="big/large.bin")
    assert head["ContentLength"] == SIZE
    assert head["ETag"].strip('"').endswith(f"-{SIZE // (8 * MiB) + 1}")  # 8 MiB parts: 38 of them
    # Flat: the process never held more than a small fraction of the file.
    assert peak_kib * 1024 < 160 * MiB, f"peak RSS {peak_kib // 1024} MiB for a {SIZE // MiB} MiB upload"
    assert sandbox.leftovers() == []
