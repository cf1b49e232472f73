"""What `supervisor` leaves unimported for a plain JSON body: its start-up, stated as behaviour.

Every exec-mode request pays the supervisor's imports, so the modules only some invocations need
are imported where those invocations need them. No timing here (`make bench BENCH=supervisor`
measures it): this says which modules stay out, and a deferred import that slips back to the
top of a module fails it.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Module -> the invocations that need it (none of which is a JSON body to a script writing no file).
NOT_FOR_A_JSON_BODY = {
    "typing": "none: annotations only, under TYPE_CHECKING",
    "argparse": "`supervisor` given command-line arguments",
    "yaml": "a service config not in the cache yet (the first start after it changed)",
    "magic": "an input file whose type is not known from its body",
    "mimetypes": "an input or output file typed by its name",
    "email": "multipart bodies",
    "zipfile": "responses of several output files",
    "hashlib": "uploads (checksums; loading OpenSSL costs milliseconds)",
    "concurrent.futures": "uploads of several files",
    "importlib.metadata": "storage providers from other distributions",
    "boto3": "an S3 provider in use",
    "botocore": "an S3 provider in use",
    "minio": "a MinIO provider in use",
    "requests": "an HTTP storage provider in use",
    "urllib3": "a storage provider in use",
    "http.client": "a storage provider in use",
    "ssl": "a storage provider in use",
}

_PROBE = (
    "import io, os, sys\n"
    "from faassupervisor.__main__ import supervisor_main\n"
    "out = io.BytesIO()\n"
    "status = supervisor_main([], dict(os.environ), io.BytesIO(b'{\"message\": \"hi\"}'), out)\n"
    "print(status, out.getvalue().decode().splitlines()[-1])\n"
    "print(' '.join(sorted(name for name in sys.argv[1:] if name in sys.modules)))\n"
)


def _run_supervisor(env: dict) -> list:
    done = subprocess.run([sys.executable, "-c", _PROBE, *NOT_FOR_A_JSON_BODY], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_json_body_imports_none_of_what_other_invocations_need(sandbox):
    sandbox.write_script("#!/bin/sh\necho hi\n")
    env = dict(sandbox.env, FUNCTION_CONFIG=base64.b64encode(b"name: probe\nlog_level: DEBUG\n").decode())
    first, _ = _run_supervisor(env)  # parses the config (PyYAML) and caches it
    assert first == "0 hi"
    assert _run_supervisor(env) == ["0 hi", ""]
