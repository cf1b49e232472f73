"""Images: build time, size, and how fast a fresh container answers its first request.

For the kit, the base image and the three examples: build time (with the
layer cache as it is; `BENCH_IMAGES_COLD=1` rebuilds with `--no-cache`), image
size, and for a fresh container (median of three): seconds from `run` to a
healthy watchdog, the first request's latency, and the median of the next ten. The kit is
measured injected into the Python-free test service image, as a cluster runs
it. Loopback only; every container and volume is removed.
Baseline (the classic watchdog + faas-supervisor 1.5.8, measured for the
watchdog issue): 413 ms per trivial request.
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
SHOUT = ROOT / "tests" / "images" / "shout"
WARM_REQUESTS = 10
FRESH_CONTAINERS = 3  # medians over this many fresh containers per image
sys.path.insert(0, str(ROOT))
from tests.images import png  # noqa: E402  (the tests' PNG writer: no imaging library needed)

PICTURE_B64 = base64.b64encode(png.encode_rgb(64, 64, [(x * 4, y * 4, 128) for y in range(64) for x in range(64)]))


class Engine:
    def __init__(self, path: str):
        self.path = path
        self.podman = os.path.basename(path) == "podman"

    def __call__(self, *args, check=True, timeout=900) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.path, *map(str, args)], capture_output=True, timeout=timeout)
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(map(str, args))[:200]}: {proc.stderr.decode()[-2000:]}")
        return proc

    def build(self, tag: str, context: Path, dockerfile: Optional[Path] = None, cold: bool = False,
              build_args=()) -> float:
        args = ["build", "-q", "-t", tag] + (["--format", "docker"] if self.podman else [])
        args += ["--no-cache"] if cold else []
        args += ["-f", str(dockerfile)] if dockerfile else []
        for arg in build_args:
            args += ["--build-arg", arg]
        started = time.perf_counter()
        self(*args, context)
        return time.perf_counter() - started

    def size_mb(self, tag: str) -> float:
        return int(self("image", "inspect", "--format", "{{.Size}}", tag).stdout) / 1e6


def first_requests(engine: Engine, image: str, body: bytes, path: str, run_args: List[str]) -> tuple:
    """(seconds to healthy, first request ms, median of the next ten ms) for a fresh container."""
    name = f"fs-bench-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    try:
        engine("run", "-d", "--init", "--name", name, "-p", "127.0.0.1::8080", *run_args, image)
        port = engine("port", name, "8080/tcp").stdout.decode().split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{url}/_/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"{image}: not healthy after 60 s: {engine('logs', name, check=False).stderr!r}")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        timings = []
        for _ in range(1 + WARM_REQUESTS):
            t0 = time.perf_counter()
            response = requests.post(url + path, data=body, timeout=60)
            timings.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{image}: {response.status_code} {response.text[:200]}")
        return ready, timings[0], statistics.median(timings[1:])
    finally:
        engine("rm", "-f", *(("-t", "2") if engine.podman else ()), name, check=False)


def main() -> int:
    path = shutil.which("podman") or shutil.which("docker")
    if path is None:
        print("no container engine (podman or docker): nothing to measure")
        return 0
    engine = Engine(path)
    cold = os.environ.get("BENCH_IMAGES_COLD") == "1"
    builds = {
        "kit": engine.build("faas-supervisor-kit:latest", ROOT, DOCKER / "kit" / "Dockerfile", cold),
        "base": engine.build("faas-supervisor-base:latest", ROOT, DOCKER / "base" / "Dockerfile", cold),
    }
    for name in ("cowsay", "grayscale", "text-to-speech"):
        builds[name] = engine.build(f"faas-supervisor-example-{name}:latest", DOCKER / "examples" / name, None,
                                    cold, ["BASE_IMAGE=faas-supervisor-base:latest"])
    engine.build("faas-supervisor-test-shout:latest", SHOUT)

    with tempfile.TemporaryDirectory() as tmp:
        volume = f"fs-bench-{uuid.uuid4().hex[:12]}"
        engine("volume", "create", volume)
        try:
            engine("run", "--rm", "-v", f"{volume}:/target", "faas-supervisor-kit:latest")
            listing = engine("run", "--rm", "-v", f"{volume}:/oscar/bin:ro", "localhost/debian-base:bookworm",
                             "du", "-sk", "/oscar/bin").stdout.decode()
            bundle_mb = int(listing.split()[0]) * 1024 / 1e6
            config = Path(tmp) / "config"
            config.mkdir()
            shutil.copy(SHOUT / "script.sh", config / "script.sh")
            (config / "function_config.yaml").write_text("name: shout\nlog_level: CRITICAL\n")
            os.chmod(tmp, 0o755)
            kit_run = ["-v", f"{volume}:/oscar/bin:ro", "-v", f"{config}:/oscar/config:ro",
                       "-e", "fprocess=/oscar/bin/supervisor", "--entrypoint", "/oscar/bin/fwatchdog"]
            rows = [
                ("kit (injected into debian-base, no Python)", "kit", "faas-supervisor-test-shout:latest",
                 base64.b64encode(b"hello\n"), "/run/shout", kit_run),
                ("cowsay", "cowsay", "faas-supervisor-example-cowsay:latest",
                 b'{"message":"Hello World"}', "/run/cowsay", []),
                ("grayscale", "grayscale", "faas-supervisor-example-grayscale:latest",
                 PICTURE_B64, "/run/grayscale", []),
                ("text-to-speech", "text-to-speech", "faas-supervisor-example-text-to-speech:latest",
                 base64.b64encode(b"Hello everyone"), "/run/text-to-speech", []),
            ]
            print(f"Builds {'without' if cold else 'with'} the layer cache; "
                  f"kit bundle (/oscar/bin): {bundle_mb:.1f} MB.\n")
            print("| image | build (s) | size (MB) | run → healthy (s) | first request (ms) "
                  f"| next {WARM_REQUESTS}, median (ms) | baseline per request |")
            print("|---|---|---|---|---|---|---|")
            print(f"| base | {builds['base']:.1f} | {engine.size_mb('faas-supervisor-base:latest'):.0f} "
                  "| – | – | – | – |")
            for label, key, image, body, url_path, run_args in rows:
                samples = [first_requests(engine, image, body, url_path, run_args) for _ in range(FRESH_CONTAINERS)]
                ready, first, warm = (statistics.median(column) for column in zip(*samples))
                size_tag = "faas-supervisor-kit:latest" if key == "kit" else image
                print(f"| {label} | {builds[key]:.1f} | {engine.size_mb(size_tag):.0f} | {ready:.2f} "
                      f"| {first:.0f} | {warm:.0f} | 413 ms |")
        finally:
            engine("volume", "rm", "-f", volume, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
