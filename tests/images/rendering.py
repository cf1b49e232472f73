"""The injection as the control plane renders it, reduced to what a container engine needs.

A pod injected by the control plane has: an init container from the kit image
running its install command into an emptyDir, the service container with
that volume at /oscar/bin, the ConfigMap's `script.sh` and the Secret's
`function_config.yaml` projected read-only at /oscar/config, and the rendered
command and environment. The tests replay exactly that with podman/docker.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List

import yaml

from faassupervisor.config.fdl import parse_fdl


@dataclasses.dataclass
class RenderedService:
    config_files: Dict[str, bytes]  # file name under /oscar/config -> content
    command: List[str]  # the service container's command and arguments
    env: Dict[str, str]
    init_command: List[str]  # the init container's command (kit image)
    init_mount: str  # where the init container mounts the shared volume
    bin_mount: str = "/oscar/bin"  # where the service container mounts it

    def write_config(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in self.config_files.items():
            (directory / name).write_bytes(content)
        return directory


def render(fdl_path: Path) -> RenderedService:
    """Until the control plane's renderer is on main: the same shape, written by hand."""
    service = parse_fdl(yaml.safe_load(fdl_path.read_text())).services[0].config
    config = dict(service.raw)
    config["storage_providers"] = {kind: dict(ids) for kind, ids in service.storage_providers.items()}
    return RenderedService(
        config_files={
            "script.sh": (fdl_path.parent / service.script).read_bytes(),
            "function_config.yaml": yaml.safe_dump(config, sort_keys=False).encode(),
        },
        command=["/oscar/bin/fwatchdog"],
        env={"fprocess": "/oscar/bin/supervisor"},
        init_command=["/oscar/bin/fwatchdog", "install", "/kit"],
        init_mount="/kit",
    )
