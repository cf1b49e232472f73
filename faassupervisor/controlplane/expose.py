"""Exposed services: a long-running server reached at /system/services/<name>/exposed/, scaled on CPU.

Deployment + Service + HorizontalPodAutoscaler + Ingress (or a NodePort
Service), with OSCAR's names (`<name>-dlp`, `-svc`, `-hpa`, `-ing`,
`-auth-expose`) and OSCAR's meaning of every `expose` field. The container runs
the user script (or the image's own command), not the watchdog, so no runtime
is injected; its config is still at /oscar/config.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Dict, List

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.podspec import service_container, service_pod_spec, template_metadata

SERVICE_PORT = 80
APP_LABEL = "app"
APP_PREFIX = "oscar-svc-exp-"  # OSCAR's selector value, so its tooling finds the pods


def expose_objects(files: ServiceFiles, options: RenderOptions) -> List[Dict[str, Any]]:
    expose = files.bundle.config.expose
    # The Secret before the Ingress that names it; no Ingress (nor auth) with a NodePort.
    objects = [auth_secret(files, options)] if expose.set_auth and not expose.node_port else []
    objects += [deployment(files, options), service(files, options), autoscaler(files, options)]
    if not expose.node_port:
        objects.append(ingress(files, options))
    return objects


def _selector(name: str) -> Dict[str, str]:
    return {APP_LABEL: APP_PREFIX + name}


def deployment(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    expose = config.expose
    command = None if expose.default_command else [f"{layout.CONFIG_DIR}/{layout.SCRIPT_FILE}"]
    container = service_container(files, command=command, base_path=layout.exposed_path(config.name))
    container["ports"] = [{"name": "podport", "containerPort": expose.api_port}]
    container.update(_probes(expose.api_port, expose.health_path))
    pod_labels = labels(files.bundle)
    pod_labels.update(_selector(config.name))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": options.metadata(f"{config.name}-dlp", labels(files.bundle), config.annotations),
        "spec": {
            # No `replicas`: the HPA owns the count, and re-applying must not reset it.
            "selector": {"matchLabels": _selector(config.name)},
            "template": {
                "metadata": template_metadata(files, pod_labels),
                "spec": service_pod_spec(files, options, container, with_runtime=False),
            },
        },
    }


def _probes(port: int, health_path) -> Dict[str, Any]:
    if health_path is None:
        # Any server accepts a connection once it listens; no path is assumed.
        return {"readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5}}
    check = {"httpGet": {"path": health_path, "port": port}}
    return {
        # Up to 10 minutes to start (models take long to load), then checked every 10 s.
        "startupProbe": dict(check, periodSeconds=10, failureThreshold=60),
        "readinessProbe": dict(check, periodSeconds=5),
        "livenessProbe": dict(check, periodSeconds=10, failureThreshold=3),
    }


def service(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    port: Dict[str, Any] = {"name": "serviceport", "port": SERVICE_PORT, "targetPort": config.expose.api_port}
    if config.expose.node_port:
        port["nodePort"] = config.expose.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": options.metadata(f"{config.name}-svc", labels(files.bundle)),
        "spec": {
            "type": "NodePort" if config.expose.node_port else "ClusterIP",
            "selector": _selector(config.name),
            "ports": [port],
        },
    }


def autoscaler(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": options.metadata(f"{config.name}-hpa", labels(files.bundle)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{config.name}-dlp"},
            "minReplicas": config.expose.min_scale,
            "maxReplicas": config.expose.max_scale,
            "metrics": [{
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": config.expose.cpu_threshold},
                },
            }],
        },
    }


def ingress(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    base = layout.exposed_path(config.name)
    # OSCAR's meaning: by default the prefix is stripped (the server sees `/...`);
    # with rewrite_target the server sees the whole public path.
    annotations = {
        "nginx.ingress.kubernetes.io/rewrite-target": f"{base}/$1" if config.expose.rewrite_target else "/$1",
        "nginx.ingress.kubernetes.io/use-regex": "true",
    }
    if config.expose.set_auth:
        annotations.update({
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": f"{config.name}-auth-expose",
            "nginx.ingress.kubernetes.io/auth-realm": "Authentication Required",
        })
    rule: Dict[str, Any] = {"http": {"paths": [{
        "path": f"{base}/?(.*)",
        # A regular expression: only ImplementationSpecific allows one.
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": f"{config.name}-svc", "port": {"number": SERVICE_PORT}}},
    }]}}
    spec: Dict[str, Any] = {"ingressClassName": options.ingress_class, "rules": [rule]}
    if options.ingress_host:
        rule["host"] = options.ingress_host
        spec["tls"] = [{"hosts": [options.ingress_host], "secretName": options.ingress_host}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": options.metadata(f"{config.name}-ing", labels(files.bundle), annotations),
        "spec": spec,
    }


def auth_secret(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    """Basic auth for the Ingress: user the service name, password the service token (as OSCAR)."""
    name = files.bundle.name
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": options.metadata(f"{name}-auth-expose", labels(files.bundle)),
        "type": "Opaque",
        "stringData": {"auth": f"{name}:{ssha_password(files.token, options.random_bytes(8))}\n"},
    }


def ssha_password(password: str, salt: bytes) -> str:
    """An htpasswd `{SSHA}` entry (salted SHA-1), which nginx's auth_basic reads; the token is 256 random bits."""
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - the format nginx defines
    return "{SSHA}" + base64.b64encode(digest + salt).decode()
