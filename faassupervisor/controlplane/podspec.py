"""The service's pod: its image, with our runtime and its config mounted, its variables and resources.

Shared by the Knative Service, the Job and the exposed Deployment, which
differ only in the command, a few variables and whether the runtime is needed.
What OSCAR puts in every service pod (pkg/types/service.go ToPodSpec and
CreateResources) is here: default limits, `imagePullPolicy: Always`, no
service-account token, no service links, `volume`, `enable_sgx`; `mount` and
`interlink_node_name` are in their own modules (OSCAR places only Jobs on the
virtual node; its services' pods just get the runtime copied in).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from faassupervisor.config.service import EMPTY
from faassupervisor.controlplane import layout, mount
from faassupervisor.controlplane.config_objects import TOKEN_KEY, ServiceFiles
from faassupervisor.controlplane.injection import Injection, add_config, config_volume, inject_runtime
from faassupervisor.controlplane.options import RenderOptions

# OSCAR's defaults when the FDL gives none (Service.CPU and Service.Memory in pkg/types/service.go).
DEFAULT_CPU = "0.2"
DEFAULT_MEMORY = "256Mi"
VOLUME_NAME = "service-volume"  # OSCAR's ServiceVolumeName


def service_container(
    files: ServiceFiles,
    command: Optional[List[str]],
    defaults: Mapping[str, str] = EMPTY,
    fixed: Mapping[str, str] = EMPTY,
    args: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """The service container. `defaults` may be overridden by the FDL's variables; `fixed` may not."""
    config = files.bundle.config
    values: Dict[str, str] = dict(defaults)
    values.update(config.environment)
    values.update(fixed)
    values["OSCAR_SERVICE_NAME"] = config.name
    # OSCAR 4.x: the exposed path for exposed services, empty for the others (Service.GetExposedBasePath).
    exposed = config.expose is not None and config.expose.exposed
    values["OSCAR_SERVICE_BASE_PATH"] = layout.exposed_path(config.name) if exposed else ""
    env: List[Dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
    env.append({
        "name": "OSCAR_SERVICE_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": layout.config_secret_name(config.name), "key": TOKEN_KEY}},
    })
    # Always: a re-pushed tag is picked up by new pods, as OSCAR renders it.
    container: Dict[str, Any] = {"name": layout.SERVICE_CONTAINER, "image": config.image, "imagePullPolicy": "Always"}
    if command is not None:
        container["command"] = list(command)
    if args is not None:
        container["args"] = list(args)
    container["env"] = env
    if config.secrets:
        container["envFrom"] = [{"secretRef": {"name": layout.user_secret_name(config.name)}}]
    container["resources"] = resources(files)
    if files.bundle.fields.enable_sgx:
        container["securityContext"] = {"capabilities": {"add": ["SYS_RAWIO"]}}  # SetSecurityContext
    return container


def resources(files: ServiceFiles) -> Dict[str, Any]:
    """OSCAR's CreateResources, with its defaults; requests equal to the limits, as Kubernetes would default them."""
    config, fields = files.bundle.config, files.bundle.fields
    limits: Dict[str, str] = {"cpu": config.cpu or DEFAULT_CPU, "memory": config.memory or DEFAULT_MEMORY}
    requests = dict(limits)
    if fields.ephemeral_storage:
        requests["ephemeral-storage"] = fields.ephemeral_storage
    if config.enable_gpu:
        limits["nvidia.com/gpu"] = "1"
    if fields.enable_sgx:
        limits["sgx.intel.com/enclave"] = "1"
    return {"limits": limits, "requests": requests}


def service_pod_spec(
    files: ServiceFiles,
    options: RenderOptions,
    container: Dict[str, Any],
    with_runtime: bool = True,
    with_minio: bool = True,
    with_mount: bool = True,
) -> Dict[str, Any]:
    """A pod spec around `container`, with /oscar/config and (unless told otherwise) the runtime and MinIO keys."""
    bundle = files.bundle
    spec: Dict[str, Any] = {
        "automountServiceAccountToken": False,  # the script has no business with the API server
        "enableServiceLinks": False,  # OSCAR 4.x: no *_SERVICE_HOST variables clashing with the user's
        "containers": [container],
    }
    if bundle.config.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in bundle.config.image_pull_secrets]
    volume = config_volume(layout.config_map_name(bundle.name), layout.config_secret_name(bundle.name),
                           script_items=True)
    spec = add_config(spec, layout.SERVICE_CONTAINER, volume)
    if with_runtime:
        injection = options.injection
        if bundle.fields.interlink_node and injection.mode == "pvc":
            # A virtual node has no access to the cluster's volumes: the runtime is copied in (interlink.go).
            injection = Injection(kit_image=injection.kit_image)
        spec = inject_runtime(spec, injection, layout.SERVICE_CONTAINER)
    container = spec["containers"][0]  # the copies above made a new one
    if with_minio and files.minio_secret is not None:
        spec["volumes"].append({"name": layout.MINIO_SECRET_VOLUME, "secret": {"secretName": files.minio_secret}})
        container["volumeMounts"].append(
            {"name": layout.MINIO_SECRET_VOLUME, "mountPath": layout.MINIO_SECRET_DIR, "readOnly": True})
    if bundle.fields.volume is not None:
        # OSCAR's ToPodSpec: the claim named after the volume (or the service), at mount_path.
        spec["volumes"].append({"name": VOLUME_NAME,
                                "persistentVolumeClaim": {"claimName": bundle.fields.volume.claim}})
        container["volumeMounts"].append({"name": VOLUME_NAME, "mountPath": bundle.fields.volume.mount_path})
    if with_mount and bundle.fields.mount is not None:
        mount.add_sidecar(spec, files, options)
    return _in_reading_order(spec)


_ORDER = ("automountServiceAccountToken", "enableServiceLinks", "initContainers", "containers", "volumes",
          "imagePullSecrets")


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
