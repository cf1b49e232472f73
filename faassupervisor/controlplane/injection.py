"""Making the runtime available in a pod whose image knows nothing of it.

Two ways, one result (`/oscar/bin/fwatchdog` and `/oscar/bin/supervisor` in
the chosen container):
- `initcontainer` (default): an init container from the kit image copies its
  self-contained runtime into an emptyDir (`fwatchdog install /target`); the
  service container mounts that emptyDir read-only at /oscar/bin. Nothing is
  needed on the cluster beyond pulling the kit image.
- `pvc`: OSCAR's existing `oscar-pvc`, which already holds the runtime, is
  mounted read-only at /oscar/bin. No init container, no copy; the claim must
  exist in the pod's namespace.

The renderer and the admission webhook both call these functions on a plain
pod-spec mapping, so both inject exactly the same objects.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Dict, List, Mapping, Optional

from faassupervisor.controlplane import layout
from faassupervisor.errors import BadConfig


@dataclasses.dataclass(frozen=True)
class Injection:
    mode: str = "initcontainer"
    kit_image: str = layout.DEFAULT_KIT_IMAGE

    def __post_init__(self):
        if self.mode not in layout.INJECTION_MODES:
            raise BadConfig(f"injection: expected one of {', '.join(layout.INJECTION_MODES)}, got {self.mode!r}")

    def volume(self) -> Dict[str, Any]:
        if self.mode == "pvc":
            return {
                "name": layout.RUNTIME_VOLUME,
                "persistentVolumeClaim": {"claimName": layout.OSCAR_PVC, "readOnly": True},
            }
        return {"name": layout.RUNTIME_VOLUME, "emptyDir": {}}

    def init_container(self) -> Optional[Dict[str, Any]]:
        if self.mode == "pvc":
            return None
        return {
            "name": layout.INSTALL_CONTAINER,
            "image": self.kit_image,
            # The default tag is `latest`, which Kubernetes would re-pull on every start.
            "imagePullPolicy": "IfNotPresent",
            # The kit has no shell: its own binary copies the runtime into the volume.
            "command": [layout.WATCHDOG, "install", layout.KIT_INSTALL_DIR],
            "volumeMounts": [{"name": layout.RUNTIME_VOLUME, "mountPath": layout.KIT_INSTALL_DIR}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "50m", "memory": "32Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False},
        }

    @staticmethod
    def mount() -> Dict[str, Any]:
        return {"name": layout.RUNTIME_VOLUME, "mountPath": layout.RUNTIME_DIR, "readOnly": True}


def config_volume(config_map: Optional[str], secret: Optional[str], script_items: bool = False) -> Dict[str, Any]:
    """The read-only /oscar/config volume: the script from a ConfigMap, function_config.yaml from a Secret.

    With `script_items` only the rendered keys are projected, the script
    executable (exposed services run it directly), the config 0444. Without,
    every key of both objects is projected (the webhook's pods name their own).
    """
    sources: List[Dict[str, Any]] = []
    if config_map is not None:
        source: Dict[str, Any] = {"name": config_map}
        if script_items:
            source["items"] = [{"key": layout.SCRIPT_FILE, "path": layout.SCRIPT_FILE, "mode": 0o555}]
        sources.append({"configMap": source})
    if secret is not None:
        source = {"name": secret}
        if script_items:
            source["items"] = [{"key": layout.CONFIG_FILE, "path": layout.CONFIG_FILE}]
        sources.append({"secret": source})
    return {"name": layout.CONFIG_VOLUME, "projected": {"defaultMode": 0o444, "sources": sources}}


def config_mount() -> Dict[str, Any]:
    return {"name": layout.CONFIG_VOLUME, "mountPath": layout.CONFIG_DIR, "readOnly": True}


def is_injected(pod_spec: Mapping[str, Any]) -> bool:
    """Whether the runtime volume is already there (rendered by us, or patched before)."""
    return any(v.get("name") == layout.RUNTIME_VOLUME for v in pod_spec.get("volumes") or [])


def inject_runtime(pod_spec: Mapping[str, Any], injection: Injection, container: str) -> Dict[str, Any]:
    """A copy of `pod_spec` with the runtime at /oscar/bin in `container` (and its init container, if any)."""
    spec = _attach(pod_spec, container, injection.volume(), injection.mount())
    init = injection.init_container()
    if init is not None:
        # First, so the runtime is in place before any other init container might want it.
        spec["initContainers"] = [init] + list(spec.get("initContainers") or [])
    return spec


def add_config(pod_spec: Mapping[str, Any], container: str, volume: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of `pod_spec` with `volume` (see `config_volume`) mounted read-only at /oscar/config."""
    return _attach(pod_spec, container, volume, config_mount())


def _attach(pod_spec: Mapping[str, Any], container: str, volume: Dict[str, Any], mount: Dict[str, Any]):
    spec = copy.deepcopy(dict(pod_spec))
    containers = spec.get("containers") or []
    target = next((c for c in containers if c.get("name") == container), None)
    if target is None:
        raise BadConfig(f"container {container!r}: not in the pod (containers: {_names(containers)})")
    volumes = spec.setdefault("volumes", [])
    if any(v.get("name") == volume["name"] for v in volumes):
        raise BadConfig(f"volume {volume['name']!r}: the pod already has a volume of that name")
    mounts = target.setdefault("volumeMounts", [])
    if any(m.get("mountPath") == mount["mountPath"] for m in mounts):
        raise BadConfig(f"container {container!r}: something is already mounted at {mount['mountPath']}")
    volumes.append(volume)
    mounts.append(mount)
    return spec


def set_env(container: Dict[str, Any], values: Mapping[str, str], override: bool) -> None:
    """Add variables to a container; existing ones win unless `override` (the pod's author knows best)."""
    env = container.setdefault("env", [])
    index = {item.get("name"): i for i, item in enumerate(env)}
    for name, value in values.items():
        if name in index:
            if override:
                env[index[name]] = {"name": name, "value": value}
            continue
        env.append({"name": name, "value": value})


def _names(items) -> str:
    return ", ".join(repr(item.get("name")) for item in items) or "none"
