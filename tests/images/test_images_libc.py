"""The kit in the images OSCAR users have, whatever their C library: none, musl, old glibc, the build's own.

On each image of `libc_images`: the kit installed into a volume by the kit
image, `/oscar/bin/fwatchdog` serving a JSON request, a base64 PNG whose MIME
the bundled libmagic detects, and a text request that the user script
upper-cases with the image's own tool; then a Job's `echo $EVENT |
/oscar/bin/supervisor` with a local-storage event. The script reports what it
sees: no variable of the bundle's (`LD_*`, `PYTHON*`, `_PYI_*`, `MAGIC`) and
no file of `/oscar/` mapped into its shell, so it runs on the image's own
loader and libraries.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import requests

from tests.images import libc_images, png
from tests.images.conftest import TEST_TAG, Engine, one_shot
from tests.images.test_images_kit import EVENT  # the MinIO event of the injected Job, key `in/note+one.txt`

pytestmark = pytest.mark.images

SCRIPT = """#!/bin/sh
# Text is upper-cased into an output file by the image's own `shout`; anything else is described.
case "$INPUT_FILE_MIME" in
    text/*) shout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")" ;;
    *) echo "mime=$INPUT_FILE_MIME name=$(basename "$INPUT_FILE_PATH")" \\
            "leaked=$(env | grep -cE '^(LD_|PYTHON|_PYI_|MAGIC=)')" \\
            "mapped=$(grep -c /oscar/ /proc/$$/maps)" "shout=$(echo ok | shout)" ;;
esac
"""
CONFIG = {
    "name": "shout", "log_level": "CRITICAL",
    "input": [{"storage_provider": "local.data", "path": "inbox/in"}],
    "output": [{"storage_provider": "local.data", "path": "outbox/out"}],
    "storage_providers": {"local": {"data": {"path": "/data"}}},
}
# What each image must (and must not) hold, checked with its own shell: the test images are what they claim.
LIBC_PROBE = ("for f in /lib64/ld-linux-x86-64.so.2 /lib/ld-musl-x86_64.so.1; do [ -e $f ] && echo $f; done; "
              "! command -v ldd >/dev/null || echo glibc $(ldd --version | head -n 1 | awk '{print $NF}')")
EXPECTED_LIBC = {
    "busybox": [],
    "musl": ["/lib/ld-musl-x86_64.so.1"],
    "bullseye": ["/lib64/ld-linux-x86-64.so.2", "glibc 2.31"],
    "bookworm": ["/lib64/ld-linux-x86-64.so.2", "glibc 2.36"],
}


@pytest.fixture(scope="module", params=list(libc_images.IMAGES))
def image(request, engine: Engine) -> tuple:
    """(name, reference) of each test image, built once per module."""
    name = request.param
    try:
        return name, libc_images.build(engine, name, TEST_TAG)
    except RuntimeError as err:  # the bullseye base needs root, podman and debootstrap
        if os.environ.get("FAAS_SUPERVISOR_REQUIRE_IMAGES") == "1":
            pytest.fail(str(err))
        pytest.skip(f"cannot build the {name} image here: {err}")


@pytest.fixture(scope="module")
def kit(engine: Engine, kit_image: str):
    """A volume holding /oscar/bin as the kit image's `fwatchdog install` leaves it."""
    name = f"fs-test-kit-{TEST_TAG}-libc"
    engine("volume", "rm", "-f", name, check=False, timeout=60)
    engine("volume", "create", name, timeout=60)
    try:
        one_shot(engine, kit_image, "/oscar/bin/fwatchdog", "install", "/target", mounts=[f"{name}:/target"])
        yield name
    finally:
        engine("volume", "rm", "-f", name, check=False, timeout=60)


@pytest.fixture
def config_dir(tmp_path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    (path / "script.sh").write_text(SCRIPT)
    (path / "function_config.yaml").write_text(json.dumps(CONFIG))
    tmp_path.chmod(0o755)
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    (path / "inbox" / "in").mkdir(parents=True)
    path.chmod(0o777)
    return path


def mounts(kit: str, config_dir: Path, data_dir: Path) -> list:
    return [f"{kit}:/oscar/bin:ro", f"{config_dir}:/oscar/config:ro", f"{data_dir}:/data"]


def facts(text: str) -> dict:
    return dict(item.split("=", 1) for item in text.split())


def test_the_image_has_the_c_library_it_stands_for(engine, image):
    name, ref = image
    found = one_shot(engine, ref, "sh", "-c", LIBC_PROBE).stdout.decode().split("\n")
    assert [line for line in found if line] == EXPECTED_LIBC[name]
    assert one_shot(engine, ref, "sh", "-c", "command -v python3 || echo none").stdout.decode().strip() == "none"


def test_watchdog_serves_json_binary_and_text(engine, image, kit, config_dir, data_dir, containers):
    _, ref = image
    box = containers(ref, entrypoint="/oscar/bin/fwatchdog", env={"fprocess": "/oscar/bin/supervisor"},
                     mounts=mounts(kit, config_dir, data_dir))
    url = f"{box.url}/run/shout"

    described = requests.post(url, json={"message": "hi"}, timeout=60)
    assert described.status_code == 200, described.text
    seen = facts(described.text)
    assert seen["mime"] == "application/json"
    # Nothing of the bundle reached the script: no variable, no library mapped; the image's tool works.
    assert (seen["leaked"], seen["mapped"], seen["shout"]) == ("0", "0", "OK")

    picture = png.encode_rgb(2, 2, [(0, 0, 255)] * 4)
    detected = requests.post(url, data=base64.b64encode(picture), timeout=60)
    assert detected.status_code == 200, detected.text
    assert facts(detected.text)["mime"] == "image/png" and facts(detected.text)["name"].endswith(".png")

    shouted = requests.post(url, data=base64.b64encode(b"from the image's own tool\n"), timeout=60)
    assert shouted.status_code == 200, shouted.text
    assert base64.b64decode(shouted.content, validate=True) == b"FROM THE IMAGE'S OWN TOOL\n"
    stored = [p.read_bytes() for p in (data_dir / "outbox" / "out").rglob("*") if p.is_file()]
    assert stored == [b"FROM THE IMAGE'S OWN TOOL\n"]


def test_job_pipes_a_storage_event_to_the_supervisor(engine, image, kit, config_dir, data_dir):
    """A Job's way in: `echo $EVENT | /oscar/bin/supervisor`, the object read from and written to local storage.
    On the musl image through `/oscar/bin/alpine/supervisor`, the path OSCAR runs for `alpine: true`."""
    name, ref = image
    supervisor = "/oscar/bin/alpine/supervisor" if name == "musl" else "/oscar/bin/supervisor"
    (data_dir / "inbox" / "in" / "note one.txt").write_bytes(b"from storage\n")
    proc = one_shot(engine, ref, "sh", "-c", f'echo "$EVENT" | {supervisor}',
                    env={"EVENT": json.dumps(EVENT)}, mounts=mounts(kit, config_dir, data_dir), check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (data_dir / "outbox" / "out" / "note one.txt").read_bytes() == b"FROM STORAGE\n"
