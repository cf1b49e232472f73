"""Replaying a rendered pod with podman/docker: the injection exactly as the control plane writes it.

The control plane renders Kubernetes objects (ConfigMap with `script.sh`,
Secret with `function_config.yaml`, a Knative Service or a Job whose pod has
the kit's init container, an emptyDir at /oscar/bin and a projected volume at
/oscar/config). `PodReplay` turns such a pod spec into container runs: each
emptyDir becomes an engine volume, each projected volume a read-only
directory holding the items it names (with their modes), a secret volume
a read-only directory of the Secret's keys, environment references are
resolved from the rendered Secrets (or from `cluster_secrets`, the Secrets a
cluster already holds, such as OSCAR's `minio`), and the command is the
rendered one. Nothing here knows what the control plane "should" render: it
reads what it did.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from faassupervisor.controlplane import render
from faassupervisor.controlplane.injection import Injection
from faassupervisor.controlplane.options import RenderOptions


@dataclasses.dataclass
class ContainerRun:
    """One container of the pod, as engine arguments."""

    image: str
    entrypoint: Optional[str]
    args: List[str]
    env: Dict[str, str]
    mounts: List[str]
    port: Optional[int] = None


class PodReplay:
    """The containers of one rendered pod spec; `close()` removes the volumes it created."""

    def __init__(self, engine, objects: Sequence[Mapping[str, Any]], workdir: Path,
                 cluster_secrets: Optional[Mapping[str, Mapping[str, str]]] = None):
        self.engine = engine
        self.objects = list(objects)
        for name, data in (cluster_secrets or {}).items():
            self.objects.append({"kind": "Secret", "metadata": {"name": name}, "stringData": dict(data)})
        self.workdir = workdir
        self._volumes: Dict[str, str] = {}  # pod volume name -> engine volume or host directory
        self._created: List[str] = []

    def find(self, kind: str, name: Optional[str] = None) -> Mapping[str, Any]:
        for obj in self.objects:
            if obj.get("kind") == kind and (name is None or obj["metadata"]["name"] == name):
                return obj
        raise AssertionError(f"no {kind} {name or ''} among the rendered objects")

    def init_containers(self, pod: Mapping[str, Any]) -> List[ContainerRun]:
        return [self._run(pod, c) for c in pod.get("initContainers") or []]

    def container(self, pod: Mapping[str, Any], index: int = 0) -> ContainerRun:
        return self._run(pod, pod["containers"][index])

    def close(self) -> None:
        for name in self._created:
            self.engine("volume", "rm", "-f", name, check=False, timeout=60)

    def _run(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> ContainerRun:
        command = list(container.get("command") or []) + list(container.get("args") or [])
        mounts = []
        for mount in container.get("volumeMounts") or []:
            source = self._volume(pod, mount["name"])
            mounts.append(f"{source}:{mount['mountPath']}" + (":ro" if mount.get("readOnly") else ""))
        ports = container.get("ports") or []  # the first is the one published
        return ContainerRun(
            image=container["image"],
            entrypoint=command[0] if command else None,
            args=command[1:],
            env=self._environment(container),
            mounts=mounts,
            port=ports[0]["containerPort"] if ports else None,
        )

    def _volume(self, pod: Mapping[str, Any], name: str) -> str:
        if name in self._volumes:
            return self._volumes[name]
        volume = next(v for v in pod.get("volumes") or [] if v["name"] == name)
        if "emptyDir" in volume:
            source = f"fs-test-{uuid.uuid4().hex[:12]}"
            self.engine("volume", "create", source, timeout=60)
            self._created.append(source)
        elif "projected" in volume:
            source = str(self._project(name, volume["projected"]))
        elif "secret" in volume:
            source = str(self._project(name, {"sources": [{"secret": {"name": volume["secret"]["secretName"]}}]}))
        else:
            raise AssertionError(f"volume {name}: only emptyDir, projected and secret volumes can be replayed")
        self._volumes[name] = source
        return source

    def _project(self, name: str, projected: Mapping[str, Any]) -> Path:
        directory = self.workdir / f"volume-{name}"
        directory.mkdir(parents=True)
        default_mode = projected.get("defaultMode", 0o644)
        for source in projected["sources"]:
            kind, ref = next(iter(source.items()))
            data = self._data("ConfigMap" if kind == "configMap" else "Secret", ref["name"])
            items = ref.get("items") or [{"key": key, "path": key} for key in data]
            for item in items:
                path = directory / item["path"]
                path.write_bytes(data[item["key"]])
                path.chmod(item.get("mode", default_mode))
        return directory

    def _data(self, kind: str, name: str) -> Dict[str, bytes]:
        obj = self.find(kind, name)
        data = {k: v.encode() for k, v in (obj.get("stringData") or {}).items()}
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value) if kind == "Secret" else value.encode()
        return data

    def _environment(self, container: Mapping[str, Any]) -> Dict[str, str]:
        env: Dict[str, str] = {}
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef") or source.get("configMapRef")
            kind = "Secret" if "secretRef" in source else "ConfigMap"
            env.update({k: v.decode() for k, v in self._data(kind, ref["name"]).items()})
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            if "fieldRef" in item["valueFrom"]:
                env[item["name"]] = f"replayed:{item['valueFrom']['fieldRef']['fieldPath']}"  # no API server here
                continue
            ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get("configMapKeyRef")
            kind = "Secret" if "secretKeyRef" in item["valueFrom"] else "ConfigMap"
            env[item["name"]] = self._data(kind, ref["name"])[ref["key"]].decode()
        return env


def knative_pod(objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    service = next(o for o in objects if o.get("kind") == "Service" and "serving.knative.dev" in o["apiVersion"])
    return service["spec"]["template"]["spec"]


def job_pod(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return job["spec"]["template"]["spec"]


def options(kit_image: str, **changes: Any) -> RenderOptions:
    return RenderOptions(injection=Injection(kit_image=kit_image), **changes)


def render_service(fdl_path: Path, kit_image: str, **changes: Any) -> List[Dict[str, Any]]:
    """`faas-supervisor render FDL --kit-image KIT [...]`, as objects."""
    return render.render_fdl(fdl_path, options(kit_image, **changes))


def render_job(fdl_path: Path, kit_image: str, event: Mapping[str, Any], **changes: Any) -> Dict[str, Any]:
    """`faas-supervisor render-job FDL --event EVENT.json --kit-image KIT [...]`, as an object."""
    return render.render_job(fdl_path, options(kit_image, **changes), json.dumps(event))


def deployment_pod(objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    return next(o for o in objects if o.get("kind") == "Deployment")["spec"]["template"]["spec"]
