"""Exposed services: a long-running server reached at /system/services/<name>/exposed/, scaled on CPU.

Deployment + Service + HorizontalPodAutoscaler + Ingress (or a NodePort
Service), with OSCAR's names (`<name>-dpl` in 4.x, `-dlp` in 3.x, `-svc`,
`-hpa`, `-ing`, `-auth-expose`) and OSCAR's meaning of every `expose` field
(pkg/backends/resources/expose.go). The container runs the user script through
`/bin/sh -c` (OSCAR's examples have no `#!` line), or the image's own command,
not the watchdog, so no runtime is injected; its config is still at /oscar/config.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Dict, List

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.podspec import service_container, service_pod_spec, template_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from faassupervisor.config.service import ExposeSettings

SERVICE_PORT = 80  # the first port; the next ones are 81, 82, ... (expose.go getServiceSpec)
APP_LABEL = "app"
APP_PREFIX = "oscar-svc-exp-"  # OSCAR's selector value, so its tooling finds the pods
# OSCAR's probe timings (expose.go): a minute before liveness counts, three minutes to start.
_LIVENESS = {"initialDelaySeconds": 60, "periodSeconds": 10, "timeoutSeconds": 10, "failureThreshold": 12}
_READINESS = {"initialDelaySeconds": 10, "periodSeconds": 5, "timeoutSeconds": 10}
_STARTUP = {"periodSeconds": 10, "timeoutSeconds": 10, "failureThreshold": 18}


def _expose(files: ServiceFiles) -> ExposeSettings:
    """The service's `expose` section: every object here is rendered only for a service that has one."""
    expose = files.bundle.config.expose
    if expose is None:
        raise ValueError(f"service {files.bundle.name!r} has no expose section to render")
    return expose


def expose_objects(files: ServiceFiles, options: RenderOptions) -> List[Dict[str, Any]]:
    expose = _expose(files)
    # The Secret before the Ingress that names it; no Ingress (nor auth) with a NodePort.
    ingress_too = files.bundle.fields.ports.has_ingress
    objects = [auth_secret(files, options)] if expose.set_auth and ingress_too else []
    objects += [deployment(files, options), service(files, options), autoscaler(files, options)]
    if ingress_too:
        objects.append(ingress(files, options))
    return objects


def _selector(name: str) -> Dict[str, str]:
    return {APP_LABEL: APP_PREFIX + name}


def deployment(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    expose = _expose(files)
    if expose.default_command:
        command = args = None
    else:
        # Through the shell, as OSCAR: a script without `#!` runs too (exec would fail with ENOEXEC).
        command, args = ["/bin/sh"], ["-c", f"{layout.CONFIG_DIR}/{layout.SCRIPT_FILE}"]
    container = service_container(files, command=command, args=args)
    ports = files.bundle.fields.ports.api
    container["ports"] = [{"name": _port_name(i), "containerPort": port} for i, port in enumerate(ports)]
    container.update(_probes(probe_path(files)))
    pod_labels = labels(files.bundle)
    pod_labels.update(_selector(config.name))
    name = layout.deployment_name(config.name, options.oscar_version)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": options.metadata(name, labels(files.bundle), config.annotations),
        "spec": {
            # No `replicas`: the HPA owns the count, and re-applying must not reset it.
            "selector": {"matchLabels": _selector(config.name)},
            "template": {
                "metadata": template_metadata(files, pod_labels),
                "spec": service_pod_spec(files, options, container, with_runtime=False, with_minio=False),
            },
        },
    }


def _port_name(index: int) -> str:
    return f"podport-{index}"


def probe_path(files: ServiceFiles) -> str:
    """OSCAR's getProbePath: `health_path` (default `/`), behind the public prefix with `rewrite_target`
    (3.7.1, and 4.x's default `probe_mode: legacy`), as it is with `probe_mode: direct`."""
    expose = _expose(files)
    path = expose.health_path or "/"
    path = path if path.startswith("/") else "/" + path
    if expose.rewrite_target and files.bundle.fields.probe_mode == "legacy":
        return layout.exposed_path(files.bundle.name) + path
    return path


def _probes(path: str) -> Dict[str, Any]:
    # An HTTP GET, never a TCP check: a hung server that still accepts connections is restarted.
    check = {"httpGet": {"path": path, "port": _port_name(0)}}
    return {
        "livenessProbe": dict(check, **_LIVENESS),
        "readinessProbe": dict(check, **_READINESS),
        "startupProbe": dict(check, **_STARTUP),
    }


def service(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    ports = files.bundle.fields.ports
    items: List[Dict[str, Any]] = []
    for i, target in enumerate(ports.api):
        item: Dict[str, Any] = {"name": f"serviceport-{i}", "port": SERVICE_PORT + i, "targetPort": target}
        if ports.node and ports.node[i]:
            item["nodePort"] = ports.node[i]  # 0: Kubernetes picks one
        items.append(item)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": options.metadata(f"{config.name}-svc", labels(files.bundle)),
        "spec": {
            "type": "NodePort" if ports.is_node_port else "ClusterIP",
            "selector": _selector(config.name),
            "ports": items,
        },
    }


def autoscaler(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    expose = _expose(files)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": options.metadata(f"{config.name}-hpa", labels(files.bundle)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": layout.deployment_name(config.name, options.oscar_version)},
            "minReplicas": expose.min_scale,
            "maxReplicas": expose.max_scale,
            "metrics": [{
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": expose.cpu_threshold},
                },
            }],
        },
    }


def ingress(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    expose = _expose(files)
    base = layout.exposed_path(config.name)
    # OSCAR's meaning: by default the prefix is stripped (the server sees `/...`);
    # with rewrite_target the server sees the whole public path.
    annotations = {
        "nginx.ingress.kubernetes.io/rewrite-target": f"{base}/$1" if expose.rewrite_target else "/$1",
        "nginx.ingress.kubernetes.io/use-regex": "true",
        # Uploads of any size (notebooks, models), and OSCAR's CORS rules for its dashboard (expose.go).
        "nginx.ingress.kubernetes.io/proxy-body-size": "0",
        "nginx.ingress.kubernetes.io/enable-cors": "true",
        "nginx.ingress.kubernetes.io/cors-allow-origin": options.cors_allow_origin,
        "nginx.ingress.kubernetes.io/cors-allow-methods": layout.OSCAR_CORS_METHODS,
        "nginx.ingress.kubernetes.io/cors-allow-headers": layout.OSCAR_CORS_HEADERS,
    }
    if expose.set_auth:
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
