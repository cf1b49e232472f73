"""The base image: the runtime installed, non-root, config at /oscar/config, a health check, `fwatchdog` by default."""

from __future__ import annotations

import base64

import pytest
import requests

from tests.images.conftest import Engine, inspect_image, one_shot

pytestmark = pytest.mark.images

ECHO_SCRIPT = "#!/bin/sh\necho \"got $(cat \"$INPUT_FILE_PATH\") as $(id -un)\"\n"


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.sh"
    path.write_text(ECHO_SCRIPT)
    path.chmod(0o755)
    return path


def test_image_metadata(engine: Engine, base_image: str):
    image = inspect_image(engine, base_image)
    config = image["Config"]
    assert config["Cmd"] == ["fwatchdog"]
    assert config["User"] not in ("", "root", "0")
    assert "FAAS_SUPERVISOR_CONFIG_DIR=/oscar/config" in config["Env"]
    assert "8080/tcp" in config["ExposedPorts"]
    health = (config.get("Healthcheck") or image["Healthcheck"])["Test"]  # docker: in Config; podman: beside it
    assert health[0] == "CMD" and any("/_/health" in part for part in health)


def test_supervisor_as_non_root_with_a_mounted_script(engine: Engine, base_image: str, script):
    proc = one_shot(engine, base_image, "supervisor", input=base64.b64encode(b"hi"),
                    env={"LOG_LEVEL": "CRITICAL"}, mounts=[f"{script}:/oscar/config/script.sh:ro"], check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "got hi as oscar\n"


def test_local_loop_docker_run_then_curl(engine: Engine, base_image: str, script, containers):
    """SPEC section 6: `docker run -p 8080:8080 -v $PWD/script.sh:/oscar/config/script.sh IMAGE`, then curl."""
    box = containers(base_image, env={"LOG_LEVEL": "CRITICAL"}, mounts=[f"{script}:/oscar/config/script.sh:ro"])
    response = requests.post(f"{box.url}/run/echo", data=base64.b64encode(b"hello"), timeout=60)
    assert response.status_code == 200, response.text
    assert response.text == "got hello as oscar\n"
    if engine.is_podman:  # docker runs health checks itself and has no command to run one now
        assert engine("healthcheck", "run", box.name, check=False).returncode == 0, box.logs()
