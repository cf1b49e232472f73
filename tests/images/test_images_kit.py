"""The kit image and the injection flow: our runtime copied into, and run inside, an image without Python."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from tests.images import png
from tests.images.conftest import HERE, SERVICE_BASE, TEST_TAG, Engine, one_shot
from tests.images.rendering import PodReplay, job_pod, knative_pod, render_job, render_service
from tests.storage_servers import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.images

SHOUT = HERE / "shout"
FDL = SHOUT / "shout.yaml"
SERVICE_IMAGE = f"faas-supervisor-test-shout:{TEST_TAG}"
EVENT = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "inbox/in/note+one.txt",
    "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {"bucket": {"name": "inbox"}, "object": {"key": "in/note+one.txt", "size": 13}},
    }],
}


@pytest.fixture(scope="module")
def service_image(engine: Engine) -> str:
    engine.build(SERVICE_IMAGE, SHOUT)
    return SERVICE_IMAGE


@pytest.fixture(scope="module")
def objects(kit_image: str, service_image: str):
    """The service's objects as the control plane renders them (kit and service images built here)."""
    return render_service(FDL, kit_image)


@pytest.fixture
def replay(engine: Engine, objects, tmp_path):
    pods = PodReplay(engine, objects, tmp_path / "pod")
    yield pods
    pods.close()


def run_init_containers(engine: Engine, replay: PodReplay, pod) -> None:
    for run in replay.init_containers(pod):
        one_shot(engine, run.image, *run.args, entrypoint=run.entrypoint, env=run.env, mounts=run.mounts)


@pytest.fixture(scope="module")
def kit_volume(engine: Engine, objects, tmp_path_factory):
    """/oscar/bin as the rendered init container leaves it, shared by the tests that run the supervisor alone."""
    pods = PodReplay(engine, objects, tmp_path_factory.mktemp("kit"))
    try:
        pod = knative_pod(objects)
        run_init_containers(engine, pods, pod)
        mount = next(m for m in pods.container(pod).mounts if m.split(":")[1] == "/oscar/bin")
        yield mount.split(":")[0]
    finally:
        pods.close()


@pytest.fixture
def config_dir(engine, objects, tmp_path) -> Path:
    """/oscar/config as the rendered projected volume holds it."""
    pods = PodReplay(engine, objects, tmp_path / "config")
    mount = next(m for m in pods.container(knative_pod(objects)).mounts if m.split(":")[1] == "/oscar/config")
    pods.close()
    return Path(mount.split(":")[0])


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """The local storage provider's root (the FDL's `local.data`), standing in for MinIO."""
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(0o777)  # the service may run as any user
    return path


def test_kit_image_has_no_shell(engine: Engine, kit_image: str):
    proc = one_shot(engine, kit_image, "/bin/sh", "-c", "true", check=False)
    assert proc.returncode != 0


def test_install_is_idempotent_and_keeps_modes(engine: Engine, kit_image: str, kit_volume: str):
    again = one_shot(engine, kit_image, "/oscar/bin/fwatchdog", "install", "/target", mounts=[f"{kit_volume}:/target"])
    assert b"copied" in again.stderr
    listing = one_shot(engine, SERVICE_BASE, "ls", "-l", "/oscar/bin",
                       mounts=[f"{kit_volume}:/oscar/bin:ro"]).stdout.decode()
    lines = {line.split(" -> ")[0].split()[-1]: line for line in listing.splitlines()[1:]}
    assert lines["fwatchdog"].startswith("-rwxr-xr-x")
    assert lines["supervisor"].startswith("l") and lines["supervisor"].endswith("-> fwatchdog")
    assert lines["faas-supervisor"].endswith("-> fwatchdog")
    assert "_internal" in lines


def test_service_image_has_no_python(engine: Engine, service_image: str):
    proc = one_shot(engine, service_image, "sh", "-c", "command -v python3 || command -v python || echo none")
    assert proc.stdout.decode().strip() == "none"


def test_supervisor_runs_from_the_kit_without_python(engine, service_image, kit_volume, config_dir):
    """stdin body → bundled supervisor → the image's own tool → base64 file response."""
    body = base64.b64encode(b"hello from a python-free image\n")
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", input=body,
                    mounts=[f"{kit_volume}:/oscar/bin:ro", f"{config_dir}:/oscar/config:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert base64.b64decode(proc.stdout, validate=True) == b"HELLO FROM A PYTHON-FREE IMAGE\n"


@pytest.mark.parametrize("image_ld_path", [None, "/opt/image-libs"])
def test_bundled_libmagic_and_a_clean_script_environment(engine, service_image, kit_volume, config_dir,
                                                         image_ld_path):
    """libmagic and its database come from the bundle; neither they nor the bundle's loader settings reach
    the script, whose LD_LIBRARY_PATH is the image's own."""
    picture = png.encode_rgb(2, 2, [(255, 0, 0)] * 4)
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", input=base64.b64encode(picture),
                    env={"LD_LIBRARY_PATH": image_ld_path} if image_ld_path else None,
                    mounts=[f"{kit_volume}:/oscar/bin:ro", f"{config_dir}:/oscar/config:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    facts = dict(item.split("=", 1) for item in proc.stdout.decode().split())
    assert facts["mime"] == "image/png"
    assert facts["name"].endswith(".png")
    assert facts["ld_library_path"] == (image_ld_path or "unset")
    assert facts["magic"] == "unset"
    assert facts["python"] == "none"
    assert facts["pyinstaller_vars"] == "0"


def test_kit_started_from_the_kit(engine, service_image, kit_volume):
    """A bundle executable started by another (the watchdog running /oscar/bin/supervisor) starts cleanly."""
    inner = base64.b64encode(b"echo inner ok\n").decode()
    outer = (f"#!/bin/sh\necho e30= | SCRIPT={inner} LOG_LEVEL=CRITICAL /oscar/bin/supervisor\n"
             "echo inner exit $?\n")
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", input=b"e30=",
                    env={"SCRIPT": base64.b64encode(outer.encode()).decode(), "LOG_LEVEL": "CRITICAL"},
                    mounts=[f"{kit_volume}:/oscar/bin:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "inner ok\ninner exit 0\n"


def test_bundled_storage_sdks(engine, service_image, kit_volume, s3_server, tmp_path):  # noqa: F811
    """The bundle's minio SDK and (pruned) boto3 against a real S3 server: a MinIO event's object
    downloaded, the result uploaded through both. The container shares the host's loopback only."""
    inbox, outbox = s3_server.bucket("inbox"), s3_server.bucket("outbox")
    s3_server.client.put_object(Bucket=inbox, Key="in/hello.txt", Body=b"through the sdks\n")
    credentials = {"endpoint": s3_server.url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
                   "region": "us-east-1"}
    config = tmp_path / "config"
    config.mkdir()
    (config / "script.sh").write_bytes((SHOUT / "script.sh").read_bytes())
    (config / "function_config.yaml").write_text(json.dumps({
        "name": "shout", "log_level": "INFO",
        "input": [{"storage_provider": "minio.moto", "path": f"{inbox}/in"}],
        "output": [{"storage_provider": "minio.moto", "path": f"{outbox}/via-minio"},
                   {"storage_provider": "s3.moto", "path": f"{outbox}/via-boto3"}],
        "storage_providers": {"minio": {"moto": credentials}, "s3": {"moto": credentials}},
    }))
    event = json.loads(json.dumps(EVENT).replace("inbox", inbox).replace("note+one.txt", "hello.txt"))
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", env={"EVENT": json.dumps(event)},
                    mounts=[f"{kit_volume}:/oscar/bin:ro", f"{config}:/oscar/config:ro"],
                    options=["--network", "host"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert s3_server.keys(outbox) == ["via-boto3/hello.txt", "via-minio/hello.txt"]
    assert s3_server.read(outbox, "via-boto3/hello.txt") == b"THROUGH THE SDKS\n"


def test_kit_runs_modules_like_an_interpreter(engine, service_image, kit_volume):
    """`sys.executable -m MODULE` (how the watchdog starts its fork server) works in the bundle too."""
    proc = one_shot(engine, service_image, "/oscar/bin/fwatchdog", "-m", "faassupervisor", "--version",
                    mounts=[f"{kit_volume}:/oscar/bin:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().startswith("supervisor ")


def test_injected_service_over_http(engine, replay, objects, data_dir, containers):
    """The rendered Knative pod, replayed: init container, kit volume, projected config, rendered command."""
    pod = knative_pod(objects)
    run_init_containers(engine, replay, pod)
    run = replay.container(pod)
    box = containers(run.image, command=run.args, entrypoint=run.entrypoint, env=run.env,
                     mounts=run.mounts + [f"{data_dir}:/data"], port=run.port)
    token = run.env.get("OSCAR_SERVICE_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(f"{box.url}/run/shout", data=base64.b64encode(b"injected\n"), headers=headers,
                             timeout=60)
    assert response.status_code == 200, response.text
    assert base64.b64decode(response.content, validate=True) == b"INJECTED\n"
    # Synchronous invocations upload their outputs too (the FDL's output: local.data outbox/out).
    stored = [p for p in (data_dir / "outbox" / "out").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [b"INJECTED\n"]


def test_injected_job_processes_a_storage_event(engine, kit_image, objects, data_dir, tmp_path):
    """The rendered Job, replayed: EVENT in its environment, the supervisor as command, local storage."""
    (data_dir / "inbox" / "in").mkdir(parents=True)
    (data_dir / "inbox" / "in" / "note one.txt").write_bytes(b"from storage\n")
    job = render_job(FDL, kit_image, EVENT)
    pods = PodReplay(engine, list(objects) + [job], tmp_path / "job")
    try:
        pod = job_pod(job)
        run_init_containers(engine, pods, pod)
        run = pods.container(pod)
        assert json.loads(run.env["EVENT"]) == EVENT
        proc = one_shot(engine, run.image, *run.args, entrypoint=run.entrypoint, env=run.env,
                        mounts=run.mounts + [f"{data_dir}:/data"], check=False)
    finally:
        pods.close()
    assert proc.returncode == 0, proc.stderr.decode()
    assert (data_dir / "outbox" / "out" / "note one.txt").read_bytes() == b"FROM STORAGE\n"

