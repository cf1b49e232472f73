"""Container fixtures: the engine (podman or docker), images built once per session, containers always removed.

Every test here is marked `images`. They are skipped, with the reason, only
when no container engine is installed, or when the local base images that
`../shared/tools/containers-setup.sh` builds are missing and the run did not
ask for them (`.ci/run` sets FAAS_SUPERVISOR_REQUIRE_IMAGES=1 after running
that script, so in CI a missing image is a failure, never a silent skip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
HERE = Path(__file__).resolve().parent

SERVICE_BASE = "localhost/debian-base:bookworm"  # no Python: what injection must cope with
# The tag the tests build under: one per checkout when several run on one machine at once
# (FAAS_SUPERVISOR_TEST_TAG=wt1 make test), so their builds never race on one name.
TEST_TAG = os.environ.get("FAAS_SUPERVISOR_TEST_TAG", "latest")
KIT_IMAGE = f"faas-supervisor-kit:{TEST_TAG}"
BASE_IMAGE = f"faas-supervisor-base:{TEST_TAG}"
EXAMPLES = ("cowsay", "grayscale", "text-to-speech")
SETUP_SCRIPT = "../shared/tools/containers-setup.sh"


class Engine:
    """A container engine's command line; podman and docker take the same arguments here."""

    def __init__(self, path: str):
        self.path = path
        self.is_podman = os.path.basename(path) == "podman"

    def __call__(self, *args, check: bool = True, timeout: float = 600, input: Optional[bytes] = None,
                 ) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.path, *map(str, args)], capture_output=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{os.path.basename(self.path)} {' '.join(map(str, args))[:300]} exited {proc.returncode}:\n"
                f"{_tail(proc.stderr)}\n{_tail(proc.stdout)}"
            )
        return proc

    @property
    def stop_timeout(self) -> tuple:
        """`rm -f` arguments for a short stop grace period (podman only; docker's `rm -f` kills at once)."""
        return ("-t", "2") if self.is_podman else ()

    def image_exists(self, ref: str) -> bool:
        return self("image", "inspect", ref, check=False, timeout=60).returncode == 0

    def build(self, tag: str, context: Path, dockerfile: Optional[Path] = None,
              build_args: Optional[Mapping[str, str]] = None) -> float:
        """Build (layers cached between runs); the seconds it took."""
        args: List[str] = ["build", "-q", "-t", tag]
        if self.is_podman:
            args += ["--format", "docker"]  # keeps HEALTHCHECK
        if dockerfile is not None:
            args += ["-f", str(dockerfile)]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        started = time.monotonic()
        self(*args, str(context), timeout=900)
        return time.monotonic() - started

    def image_size(self, ref: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", ref).stdout.decode().strip())


def find_engine() -> Optional[str]:
    return shutil.which("podman") or shutil.which("docker")


def _tail(data: bytes, limit: int = 3000) -> str:
    text = data.decode("utf-8", "replace")
    return text[-limit:]


@pytest.fixture(scope="session")
def engine() -> Engine:
    path = find_engine()
    if path is None:
        pytest.skip("image tests need a container engine: neither podman nor docker is installed")
    found = Engine(path)
    if not found.image_exists(SERVICE_BASE):
        reason = (f"the local base image {SERVICE_BASE} is missing (a Debian root file system the tests build "
                  f"FROM, since no registry is used): build it with {SETUP_SCRIPT}, which .ci/run calls, "
                  f"or tag any Debian bookworm image with that name")
        if os.environ.get("FAAS_SUPERVISOR_REQUIRE_IMAGES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def kit_image(engine: Engine) -> str:
    engine.build(KIT_IMAGE, ROOT, DOCKER / "kit" / "Dockerfile")
    return KIT_IMAGE


@pytest.fixture(scope="session")
def base_image(engine: Engine) -> str:
    engine.build(BASE_IMAGE, ROOT, DOCKER / "base" / "Dockerfile")
    return BASE_IMAGE


@pytest.fixture(scope="session")
def example_image(engine: Engine, base_image: str):
    """`example_image(name)`: the example's image, built FROM the base image once per session."""
    built: Dict[str, str] = {}

    def build(name: str) -> str:
        if name not in built:
            tag = f"faas-supervisor-example-{name}:{TEST_TAG}"
            engine.build(tag, DOCKER / "examples" / name, build_args={"BASE_IMAGE": base_image})
            built[name] = tag
        return built[name]

    return build


class Container:
    def __init__(self, engine: Engine, name: str):
        self.engine = engine
        self.name = name
        self.url = ""

    def logs(self) -> str:
        proc = self.engine("logs", self.name, check=False, timeout=60)
        return _tail(proc.stdout + proc.stderr, 6000)

    def running(self) -> bool:
        proc = self.engine("inspect", "--format", "{{.State.Running}}", self.name, check=False, timeout=60)
        return proc.stdout.decode().strip() == "true"

    def wait_ready(self, timeout: float = 60, path: str = "/_/health") -> None:
        """Until GET `path` answers 200; fails with the container's log if it exits or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}{path}", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if not self.running():
                raise AssertionError(f"container {self.name} exited before serving:\n{self.logs()}")
            time.sleep(0.2)
        raise AssertionError(f"container {self.name} not healthy after {timeout}s:\n{self.logs()}")


@pytest.fixture
def containers(engine: Engine):
    """`start(image, ...)` runs a detached container on 127.0.0.1; all of them and their volumes removed after."""
    names: List[str] = []
    volumes: List[str] = []

    def start(image: str, command: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
              mounts: Iterable[str] = (), entrypoint: Optional[str] = None, wait: bool = True,
              port: int = 8080) -> Container:
        name = f"fs-test-{uuid.uuid4().hex[:12]}"
        args = ["run", "-d", "--init", "--name", name, "-p", f"127.0.0.1::{port}"]
        args += _run_options(env, mounts, entrypoint)
        names.append(name)  # before starting: a failed start still leaves a container to remove
        engine(*args, image, *command, timeout=120)
        box = Container(engine, name)
        published = engine("port", name, f"{port}/tcp", check=False).stdout.decode().split()
        if not published:
            raise AssertionError(f"container {name} published no port (exited at once?):\n{box.logs()}")
        box.url = f"http://127.0.0.1:{published[0].rsplit(':', 1)[1]}"
        if wait:
            box.wait_ready()
        return box

    def volume() -> str:
        name = f"fs-test-{uuid.uuid4().hex[:12]}"
        volumes.append(name)
        engine("volume", "create", name, timeout=60)
        return name

    start.volume = volume  # type: ignore[attr-defined]
    yield start
    for name in names:
        engine("rm", "-f", *engine.stop_timeout, name, check=False, timeout=120)
    for name in volumes:
        engine("volume", "rm", "-f", name, check=False, timeout=60)


def _run_options(env: Optional[Mapping[str, str]], mounts: Iterable[str], entrypoint: Optional[str]) -> List[str]:
    """`run` flags for environment variables, volumes and an entrypoint override."""
    args: List[str] = []
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    for mount in mounts:
        args += ["-v", mount]
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    return args


def one_shot(engine: Engine, image: str, *command: str, env: Optional[Mapping[str, str]] = None,
             mounts: Iterable[str] = (), entrypoint: Optional[str] = None, input: Optional[bytes] = None,
             check: bool = True, options: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """A container that runs one command and is removed (`--rm`, and `rm -f` if the call fails)."""
    name = f"fs-test-{uuid.uuid4().hex[:12]}"
    args = ["run", "--rm", "--init", "--name", name]
    if input is not None:
        args.append("-i")
    args += _run_options(env, mounts, entrypoint)
    args += list(options)
    try:
        return engine(*args, image, *command, input=input, check=check, timeout=300)
    except BaseException:
        engine("rm", "-f", name, check=False, timeout=120)
        raise


def inspect_image(engine: Engine, ref: str) -> dict:
    return json.loads(engine("image", "inspect", ref).stdout)[0]
