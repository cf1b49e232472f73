"""Storage: upload throughput against moto's S3 server, and what a configured provider adds to start-up.

Uploads: 100 files of 1 MiB, then one file of 300 MiB, to a moto server in its
own process on 127.0.0.1, four ways in the same run: a sequential boto3
`upload_file` loop (what faas-supervisor 1.5.8 does for every output), then
`faassupervisor.storage.transfer.upload_outputs` (parallel pool, multipart,
size-verified) through the `minio` and the `s3` provider. Each figure is the
best of 3 runs.

Start-up: wall time of `supervisor` (`echo hi`, tiny JSON body), median of 30,
with no storage configured and with a `minio` output configured (the script
writes no file, so nothing is uploaded), interleaved. `-X importtime` of the
second case must not load boto3, botocore, minio, requests or urllib3
(checked from `sys.modules` at exit).

Targets (issue): >= 3x faster than the sequential loop for the 100 files;
start-up within 5 ms of the no-storage case when no SDK is used.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.020  # seconds per request: a same-region S3 endpoint, where in-cluster MinIO is ~1 ms
SUPERVISOR = str(BIN / "supervisor")
MiB = 1024 * 1024
ACCESS, SECRET = "bench-access", "bench-secret"
REPEATS = 3
STARTUP_RUNS = 30
SDK_MODULES = ("boto3", "botocore", "minio", "requests", "urllib3")


@contextlib.contextmanager
def moto_process():
    """moto's S3 server in a process of its own, so client and server do not share a GIL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def latency_proxy(upstream: str, delay: float):
    """The tests' FaultProxy, in its own process, adding `delay` seconds to every request (a remote endpoint's RTT)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.storage_servers import FaultProxy; "
        "proxy = FaultProxy(sys.argv[2], delay=float(sys.argv[3])); print(proxy.url, flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(ROOT), upstream, str(delay)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def _boto3_client(url: str):
    import boto3

    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS, aws_secret_access_key=SECRET
    )


def _files(root: Path, count: int, size: int) -> Path:
    root.mkdir(parents=True)
    block = os.urandom(size)
    for i in range(count):
        (root / f"file-{i:03}.bin").write_bytes(block[i:] + block[:i])  # distinct contents
    return root


def _sequential_boto3(url: str, folder: Path) -> float:
    """faas-supervisor 1.5.8's way: one `upload_file` after another (default TransferConfig)."""
    bucket = f"seq-{time.monotonic_ns()}"
    _boto3_client(url).create_bucket(Bucket=bucket)
    started = time.perf_counter()
    client = _boto3_client(url)  # built inside, as in an invocation (as ours is)
    for path in sorted(folder.iterdir()):
        client.upload_file(str(path), bucket, path.name)
    return time.perf_counter() - started


def _ours(url: str, folder: Path, kind: str, tmp: Path) -> float:
    from faassupervisor.config.service import ServiceConfig
    from faassupervisor.storage import transfer
    from faassupervisor.storage.provider import ProviderContext
    from faassupervisor.storage.registry import ProviderSet

    bucket = f"{kind}-{time.monotonic_ns()}"
    _boto3_client(url).create_bucket(Bucket=bucket)
    service = ServiceConfig.from_mapping(
        {
            "output": [{"storage_provider": f"{kind}.default", "path": bucket}],
            "storage_providers": {kind: {"default": {"endpoint": url, "access_key": ACCESS, "secret_key": SECRET}}},
        }
    )
    providers = ProviderSet(service, ProviderContext(tmp / "local", tmp / "secrets"))
    started = time.perf_counter()  # the SDK client is built inside, as in an invocation
    transfer.upload_outputs(folder, service, providers)
    return time.perf_counter() - started


def _best(measure) -> float:
    return min(measure() for _ in range(REPEATS))


def uploads(tmp: Path) -> None:
    small = _files(tmp / "small", 100, 1 * MiB)
    large = _files(tmp / "large", 1, 300 * MiB)
    rows = []
    with moto_process() as moto:
        _sequential_boto3(moto, small)  # warm up: imports, connections, moto's first buckets
        cases = [("100 x 1 MiB", small, moto), ("1 x 300 MiB", large, moto)]
        with latency_proxy(moto, LATENCY) as remote:
            cases.append((f"100 x 1 MiB, +{LATENCY * 1000:.0f} ms per request", small, remote))
            for label, folder, url in cases:
                base = _best(lambda: _sequential_boto3(url, folder))
                minio = _best(lambda: _ours(url, folder, "minio", tmp))
                s3 = _best(lambda: _ours(url, folder, "s3", tmp))
                rows.append((label, base, minio, s3))
    print(
        "| upload to moto (best of 3) | sequential boto3 `upload_file` (1.5.8) "
        "| `minio` provider | `s3` provider | speed-up (minio / s3) |"
    )
    print("|---|---|---|---|---|")
    for label, base, minio, s3 in rows:
        print(f"| {label} | {base:.2f} s | {minio:.2f} s | {s3:.2f} s | {base / minio:.1f}x / {base / s3:.1f}x |")
    print()


def _startup_env(tmp: Path, config: bytes) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")}
    env.update(
        SCRIPT=base64.b64encode(b"echo hi\n").decode(),
        FUNCTION_CONFIG=base64.b64encode(config).decode(),
        FAAS_SUPERVISOR_CONFIG_DIR=str(tmp / "no-config"),
        FAAS_SUPERVISOR_SECRETS_DIR=str(tmp / "no-secrets"),
        TMPDIR=str(tmp),
    )
    return env


def _wall(env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run([SUPERVISOR], input=b'{"message": "hi"}', env=env, capture_output=True)
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr.decode()
    return wall


# Runs one invocation in-process, then writes every module it loaded. (`-X importtime` alone misses
# imports made once the invocation has started: the supervisor's stderr is not ours then; and the
# `supervisor` script itself ends with os._exit, which runs no atexit hook.)
_MODULES_AFTER = """
import sys
from faassupervisor.__main__ import supervisor_main
supervisor_main([])
open(sys.argv[1], "w").write("\\n".join(sorted(sys.modules)))
"""


def _sdk_modules_loaded(env: dict, tmp: Path) -> list:
    listing = tmp / "modules.txt"
    subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, str(listing)],
        input=b'{"message": "hi"}',
        env=env,
        capture_output=True,
        check=True,
    )
    loaded = set(listing.read_text().split())
    assert "faassupervisor.storage.providers.minio" in loaded, "the minio output was not even validated"
    return sorted(m for m in SDK_MODULES if m in loaded)


def startup(tmp: Path) -> None:
    plain = _startup_env(tmp, b"name: bench\nlog_level: INFO\n")
    with_minio = _startup_env(
        tmp,
        b"name: bench\nlog_level: INFO\n"
        b"output: [{storage_provider: minio.default, path: results/out}]\n"
        b"storage_providers: {minio: {default: {endpoint: 'http://127.0.0.1:9', access_key: a, secret_key: s}}}\n",
    )
    for env in (plain, with_minio):  # warm the page cache and the config caches
        _wall(env)
    times = {"plain": [], "minio": []}
    for _ in range(STARTUP_RUNS):
        times["plain"].append(_wall(plain))
        times["minio"].append(_wall(with_minio))
    plain_ms, minio_ms = (statistics.median(times[k]) * 1000 for k in ("plain", "minio"))
    sdks = _sdk_modules_loaded(with_minio, tmp)
    print("| `supervisor` start-up, `echo hi` (median of 30) | wall |")
    print("|---|---|")
    print(f"| no storage configured | {plain_ms:.1f} ms |")
    print(f"| a `minio` output configured, nothing written | {minio_ms:.1f} ms ({minio_ms - plain_ms:+.1f} ms) |")
    print()
    print(f"SDK modules loaded with a `minio` output configured (and validated): {', '.join(sdks) or 'none'}.")
    print()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as name:
        tmp = Path(name)
        startup(tmp)
        uploads(tmp)
    print(
        "Targets: 100 x 1 MiB >= 3x faster than the sequential loop; start-up within 5 ms when no SDK is used "
        "(and no SDK imported)."
    )


if __name__ == "__main__":
    main()
