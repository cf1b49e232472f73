"""The examples' FDL files render into valid objects that carry the example's own script (no containers needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faassupervisor.config.loader import load_service
from faassupervisor.controlplane.render import render_fdl
from faassupervisor.controlplane.options import RenderOptions
from tests.controlplane_validation import assert_valid

EXAMPLES = Path(__file__).resolve().parent.parent / "docker" / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def test_every_example_has_its_files():
    assert NAMES == ["cowsay", "grayscale", "text-to-speech"]
    for name in NAMES:
        for file in ("Dockerfile", "script.sh", f"{name}.yaml", "README.md"):
            assert (EXAMPLES / name / file).is_file(), f"{name}/{file}"


@pytest.mark.parametrize("name", NAMES)
def test_fdl_renders_valid_objects_with_the_script(name):
    objects = render_fdl(EXAMPLES / name / f"{name}.yaml", RenderOptions(random_bytes=lambda n: b"\0" * n))
    assert_valid(objects)
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config_map["data"]["script.sh"] == (EXAMPLES / name / "script.sh").read_text()
    secret = next(o for o in objects if o["kind"] == "Secret" and "function_config.yaml" in o["stringData"])
    service = load_service(secret["stringData"]["function_config.yaml"].encode(), "function_config.yaml")
    assert service.name == name
    assert service.log_level == "CRITICAL"


def test_the_images_readmes_name_the_fdl_files():
    for name in NAMES:
        readme = (EXAMPLES / name / "README.md").read_text()
        assert f"{name}.yaml" in readme
        assert "docker run" in readme and "curl" in readme and "oscar_python" in readme
