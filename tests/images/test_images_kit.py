"""The kit image and the injection flow: our runtime copied into, and run inside, an image without Python."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.images import png
from tests.images.conftest import HERE, SERVICE_BASE, Engine, one_shot
from tests.images.rendering import render

pytestmark = pytest.mark.images

SHOUT = HERE / "shout"
SERVICE_IMAGE = "faas-supervisor-test-shout:latest"


@pytest.fixture(scope="module")
def service_image(engine: Engine) -> str:
    engine.build(SERVICE_IMAGE, SHOUT)
    return SERVICE_IMAGE


@pytest.fixture(scope="module")
def rendered():
    return render(SHOUT / "shout.yaml")


@pytest.fixture(scope="module")
def kit_volume(engine: Engine, kit_image: str, rendered):
    """A volume the kit installed itself into, as the rendered init container does; removed afterwards."""
    name = f"fs-test-kit-{uuid.uuid4().hex[:12]}"
    engine("volume", "create", name, timeout=60)
    try:
        one_shot(engine, kit_image, *rendered.init_command, mounts=[f"{name}:{rendered.init_mount}"])
        yield name
    finally:
        engine("volume", "rm", "-f", name, check=False, timeout=60)


@pytest.fixture
def config_dir(tmp_path, rendered) -> Path:
    return rendered.write_config(tmp_path / "config")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(0o777)  # the service may run as any user
    return path


def test_kit_image_has_no_shell(engine: Engine, kit_image: str):
    proc = one_shot(engine, kit_image, "/bin/sh", "-c", "true", check=False)
    assert proc.returncode != 0


def test_install_is_idempotent_and_keeps_modes(engine: Engine, kit_image: str, kit_volume: str, rendered):
    again = one_shot(engine, kit_image, *rendered.init_command, mounts=[f"{kit_volume}:{rendered.init_mount}"])
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


def test_bundled_libmagic_and_a_clean_script_environment(engine, service_image, kit_volume, config_dir):
    """libmagic and its database come from the bundle; neither they nor the bundle's libraries leak to the script."""
    picture = png.encode_rgb(2, 2, [(255, 0, 0)] * 4)
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", input=base64.b64encode(picture),
                    mounts=[f"{kit_volume}:/oscar/bin:ro", f"{config_dir}:/oscar/config:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    facts = dict(item.split("=", 1) for item in proc.stdout.decode().split())
    assert facts["mime"] == "image/png"
    assert facts["name"].endswith(".png")
    assert facts["ld_library_path"] == "unset"
    assert facts["magic"] == "unset"
    assert facts["python"] == "none"


def test_injected_service_over_http(engine, service_image, kit_volume, config_dir, data_dir, rendered, containers):
    """The rendered pod, replayed: kit volume at /oscar/bin, config at /oscar/config, the rendered command."""
    box = containers(
        service_image,
        command=rendered.command[1:],
        entrypoint=rendered.command[0],
        env=rendered.env,
        mounts=[f"{kit_volume}:{rendered.bin_mount}:ro", f"{config_dir}:/oscar/config:ro", f"{data_dir}:/data"],
    )
    response = requests.post(f"{box.url}/run/shout", data=base64.b64encode(b"injected\n"), timeout=60)
    assert response.status_code == 200, response.text
    assert base64.b64decode(response.content, validate=True) == b"INJECTED\n"
    # Synchronous invocations upload their outputs too (the FDL's output: local.data outbox/out).
    stored = [p for p in (data_dir / "outbox" / "out").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [b"INJECTED\n"]


def test_injected_service_processes_a_storage_event(engine, service_image, kit_volume, config_dir, data_dir):
    """A Job's way: EVENT in the environment, the supervisor as command, local storage in a mounted dir."""
    (data_dir / "inbox" / "in").mkdir(parents=True)
    (data_dir / "inbox" / "in" / "note one.txt").write_bytes(b"from storage\n")
    event = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": "inbox/in/note+one.txt",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-11-23T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "s3": {"bucket": {"name": "inbox"}, "object": {"key": "in/note+one.txt", "size": 13}},
        }],
    }
    proc = one_shot(engine, service_image, "/oscar/bin/supervisor", env={"EVENT": json.dumps(event)},
                    mounts=[f"{kit_volume}:/oscar/bin:ro", f"{config_dir}:/oscar/config:ro", f"{data_dir}:/data"],
                    check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (data_dir / "outbox" / "out" / "note one.txt").read_bytes() == b"FROM STORAGE\n"
