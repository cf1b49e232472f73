"""The service's pod: its image, with our runtime and its config mounted, its variables and resources.

Shared by the Knative Service, the Job and the exposed Deployment, which
differ only in the command, a few variables and whether the runtime is needed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import TOKEN_KEY, ServiceFiles
from faassupervisor.controlplane.injection import add_config, config_volume, inject_runtime
from faassupervisor.controlplane.options import RenderOptions


def service_container(
    files: ServiceFiles,
    command: Optional[List[str]],
    base_path: str,
    defaults: Mapping[str, str] = (),
    fixed: Mapping[str, str] = (),
) -> Dict[str, Any]:
    """The service container. `defaults` may be overridden by the FDL's variables; `fixed` may not."""
    config = files.bundle.config
    values: Dict[str, str] = dict(defaults)
    values.update(config.environment)
    values.update(fixed)
    values["OSCAR_SERVICE_NAME"] = config.name
    values["OSCAR_SERVICE_BASE_PATH"] = base_path
    env: List[Dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
    env.append({
        "name": "OSCAR_SERVICE_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": layout.config_secret_name(config.name), "key": TOKEN_KEY}},
    })
    container: Dict[str, Any] = {"name": layout.SERVICE_CONTAINER, "image": config.image}
    if command is not None:
        container["command"] = list(command)
    container["env"] = env
    if config.secrets:
        container["envFrom"] = [{"secretRef": {"name": layout.user_secret_name(config.name)}}]
    limits: Dict[str, str] = {}
    if config.cpu:
        limits["cpu"] = config.cpu
    if config.memory:
        limits["memory"] = config.memory
    if config.enable_gpu:
        limits["nvidia.com/gpu"] = "1"
    if limits:
        # Limits only, as OSCAR: requests default to them, so the scheduler reserves what may be used.
        container["resources"] = {"limits": limits}
    return container


def service_pod_spec(
    files: ServiceFiles,
    options: RenderOptions,
    container: Dict[str, Any],
    with_runtime: bool = True,
) -> Dict[str, Any]:
    """A pod spec around `container`, with /oscar/config and (unless told otherwise) the runtime."""
    name = files.bundle.name
    spec: Dict[str, Any] = {"containers": [container]}
    if files.bundle.config.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in files.bundle.config.image_pull_secrets]
    volume = config_volume(layout.config_map_name(name), layout.config_secret_name(name), script_items=True)
    spec = add_config(spec, layout.SERVICE_CONTAINER, volume)
    if with_runtime:
        spec = inject_runtime(spec, options.injection, layout.SERVICE_CONTAINER)
    return _in_reading_order(spec)


_ORDER = ("initContainers", "containers", "volumes", "imagePullSecrets")


def _in_reading_order(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Init containers before containers before volumes, as people write pods (YAML keeps dict order)."""
    ordered = {key: spec[key] for key in _ORDER if key in spec}
    ordered.update((key, value) for key, value in spec.items() if key not in ordered)
    return ordered


def template_metadata(files: ServiceFiles, labels: Mapping[str, str], extra=None) -> Dict[str, Any]:
    """Pod-template metadata: labels, the user's annotations, and the config digest that rolls pods."""
    annotations = dict(files.bundle.config.annotations)
    annotations.update(extra or {})
    annotations[layout.CONFIG_HASH_ANNOTATION] = files.digest
    return {"labels": dict(labels), "annotations": annotations}
