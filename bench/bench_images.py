"""Images: build time, size, and how fast a fresh container answers its first request.

For the kit, the base image and the three examples: build time (with the
layer cache as it is; `BENCH_IMAGES_COLD=1` rebuilds with `--no-cache`), image
size, and for a fresh container (median of three): seconds from `run` to a
healthy watchdog, the first request's latency, and the median of the next ten. The kit is
measured injected into the Python-free test service image, as a cluster runs
it. Loopback only; every container and volume is removed.
Baseline (the classic watchdog + faas-supervisor 1.5.8, measured for the
watchdog issue): 413 ms per trivial request.

Then the kit in images of every C library (tests/images/libc_images.py:
scratch + static busybox, musl, Debian 11 bullseye, Debian 12 bookworm): the
kit's size, `supervisor` start (median of 20 runs of a tiny JSON, timed inside
the container by the static bench/timeloop.c), the watchdog's time from exec
(the container's start) to its first 200 on /_/health, and the first request,
each the median over three fresh containers. Baseline: the kit as it was
before it carried its own C library (revision BENCH_IMAGES_BASELINE, default
below) on bookworm, and the error it stops with on the other images.
`BENCH_IMAGES=libc` runs only this part.
"""

from __future__ import annotations

import base64
import json
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
from tests.images import libc_images, png  # noqa: E402  (the tests' image builder and PNG writer)

# The last revision whose kit needed the image's glibc (2.36+): the baseline of the libc table.
BASELINE_REVISION = os.environ.get("BENCH_IMAGES_BASELINE", "1639951")
START_RUNS = 20
LIBC_TAG = "bench"

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


def libc_table(engine: Engine) -> int:
    """The kit in each C library's image, against the baseline kit: the second table."""
    baseline = build_baseline_kit(engine)
    images = {name: libc_images.build(engine, name, LIBC_TAG) for name in libc_images.IMAGES}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        work = Path(tmp)
        timeloop = compile_timeloop(work)
        config = work / "config"
        config.mkdir()
        (config / "script.sh").write_text("#!/bin/sh\necho ok\n")
        (config / "function_config.yaml").write_text("name: shout\nlog_level: CRITICAL\n")
        (work / "tiny.json").write_text(json.dumps({"message": "hi"}))
        kits = {"this kit": "faas-supervisor-kit:latest", f"baseline kit ({BASELINE_REVISION})": baseline}
        print(f"\n### The kit in every C library's image\n\n`supervisor` start: median of {START_RUNS} runs of a "
              f"tiny JSON, inside the container; exec → 200 and first request: median of {FRESH_CONTAINERS} "
              "fresh containers.\n")
        print("| kit | image | kit size (MiB) | `supervisor` start (ms) | watchdog exec → 200 (ms) "
              "| first request (ms) |")
        print("|---|---|---|---|---|---|")
        errors = []
        volumes = {label: f"fs-bench-{uuid.uuid4().hex[:12]}" for label in kits}
        try:
            sizes = {}
            for label, kit in kits.items():
                engine("volume", "create", volumes[label])
                engine("run", "--rm", "-v", f"{volumes[label]}:/target", kit)
                sizes[label] = kit_size_mib(engine, volumes[label], images["bookworm"])
            # Image by image, both kits one after the other: the machine's load drifts less between them.
            for name, image in images.items():
                for label in kits:
                    mounts = ["-v", f"{volumes[label]}:/oscar/bin:ro", "-v", f"{config}:/oscar/config:ro"]
                    failure = start_error(engine, image, mounts)
                    if failure:
                        errors.append(f"- {label} on {name} ({libc_images.IMAGES[name]}): `{failure}`")
                        print(f"| {label} | {name} | {sizes[label]:.1f} | does not start | – | – |")
                        continue
                    start = supervisor_start_ms(engine, image, mounts, timeloop, work / "tiny.json")
                    samples = [exec_to_ready(engine, image, mounts) for _ in range(FRESH_CONTAINERS)]
                    ready, first = (statistics.median(column) for column in zip(*samples))
                    print(f"| {label} | {name} | {sizes[label]:.1f} | {start} | {ready:.0f} | {first:.0f} |",
                          flush=True)
        finally:
            for volume in volumes.values():
                engine("volume", "rm", "-f", volume, check=False)
        if errors:
            print("\nWhere a kit does not start, `echo {} | /oscar/bin/supervisor` says:\n")
            print("\n".join(errors))
    return 0


def build_baseline_kit(engine: Engine) -> str:
    """The kit image of BASELINE_REVISION, built from `git archive` of that revision."""
    tag = "faas-supervisor-kit:baseline"
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_REVISION], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        engine.build(tag, Path(tmp), Path(tmp) / "docker" / "kit" / "Dockerfile")
    return tag


def compile_timeloop(work: Path) -> Optional[Path]:
    """bench/timeloop.c built static (it runs in images without a C library); None without a compiler."""
    out = work / "timeloop"
    proc = subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(ROOT / "bench" / "timeloop.c")],
                          capture_output=True)
    return out if proc.returncode == 0 else None


def kit_size_mib(engine: Engine, volume: str, image: str) -> float:
    listing = engine("run", "--rm", "-v", f"{volume}:/oscar/bin:ro", image, "du", "-sk", "/oscar/bin").stdout
    return int(listing.decode().split()[0]) / 1024


def start_error(engine: Engine, image: str, mounts: List[str]) -> str:
    """'' if `echo {} | /oscar/bin/supervisor` succeeds in `image`, else its last line of errors."""
    proc = engine("run", "--rm", *mounts, image, "sh", "-c", "echo '{}' | /oscar/bin/supervisor", check=False)
    if proc.returncode == 0:
        return ""
    lines = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def supervisor_start_ms(engine: Engine, image: str, mounts: List[str], timeloop: Optional[Path],
                        tiny: Path) -> str:
    if timeloop is None:
        return "no gcc to build bench/timeloop.c"
    proc = engine("run", "--rm", *mounts, "-v", f"{timeloop}:/timeloop:ro", "-v", f"{tiny}:/tiny.json:ro",
                  "--entrypoint", "/timeloop", image, START_RUNS, "/tiny.json", "/oscar/bin/supervisor")
    return f"{statistics.median(float(line) for line in proc.stdout.decode().split()):.0f}"


def exec_to_ready(engine: Engine, image: str, mounts: List[str]) -> tuple:
    """(ms from the container's start, which execs fwatchdog, to its first 200; first request ms)."""
    name = f"fs-bench-{uuid.uuid4().hex[:12]}"
    try:
        engine("run", "-d", "--name", name, "-p", "127.0.0.1::8080", *mounts, "-e", "fprocess=/oscar/bin/supervisor",
               "--entrypoint", "/oscar/bin/fwatchdog", image)
        port = engine("port", name, "8080/tcp").stdout.decode().split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/_/health", timeout=1).status_code == 200:
                    ready_ns = time.time_ns()
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{image}: watchdog not healthy after 60 s")
            time.sleep(0.005)
        started_ns = int(engine("inspect", "--format", "{{.State.StartedAt.UnixNano}}", name).stdout)
        t0 = time.perf_counter()
        response = requests.post(f"{url}/run/shout", json={"message": "hi"}, timeout=60)
        first = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{image}: {response.status_code} {response.text[:200]}")
        return (ready_ns - started_ns) / 1e6, first
    finally:
        engine("rm", "-f", *(("-t", "2") if engine.podman else ()), name, check=False)


def main() -> int:
    path = shutil.which("podman") or shutil.which("docker")
    if path is None:
        print("no container engine (podman or docker): nothing to measure")
        return 0
    engine = Engine(path)
    if os.environ.get("BENCH_IMAGES") == "libc":
        engine.build("faas-supervisor-kit:latest", ROOT, DOCKER / "kit" / "Dockerfile")
        return libc_table(engine)
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
    return libc_table(engine)


if __name__ == "__main__":
    sys.exit(main())
