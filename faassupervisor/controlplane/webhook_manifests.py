"""`faas-supervisor render-webhook`: the objects that run `faas-supervisor inject` in a cluster.

A Deployment serving HTTPS on 8443 with its certificate from a Secret, a
Service in front of it, and the MutatingWebhookConfiguration sending it Pod
creations. The API server must trust the certificate: either `--ca-bundle`
embeds the CA, or cert-manager injects it (the `inject-ca-from` annotation) from
a Certificate named like the TLS Secret.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, Dict, List, Optional

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.injection import Injection

NAME = "faas-supervisor-webhook"
PORT = 8443
TLS_DIR = "/etc/faas-supervisor/tls"
NAMESPACE_LABEL = layout.ANNOTATION_PREFIX + "injection"  # a namespace opts in with `=enabled`


@dataclasses.dataclass(frozen=True)
class WebhookManifestOptions:
    namespace: str = "faas-supervisor"
    image: str = layout.DEFAULT_WEBHOOK_IMAGE
    injection: Injection = Injection()
    tls_secret: str = f"{NAME}-tls"
    ca_bundle: Optional[bytes] = None  # PEM
    replicas: int = 2
    all_namespaces: bool = False  # default: only namespaces labelled faas-supervisor.io/injection=enabled


def webhook_objects(options: WebhookManifestOptions) -> List[Dict[str, Any]]:
    labels = dict(layout.MANAGED_BY, **{"app.kubernetes.io/name": NAME})
    return [_deployment(options, labels), _service(options, labels), _configuration(options, labels)]


def _meta(options: WebhookManifestOptions, labels, annotations=None) -> Dict[str, Any]:
    meta: Dict[str, Any] = {"name": NAME, "namespace": options.namespace, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _deployment(options: WebhookManifestOptions, labels) -> Dict[str, Any]:
    command = [
        "faas-supervisor", "inject",
        "--port", str(PORT),
        "--tls-cert", f"{TLS_DIR}/tls.crt",
        "--tls-key", f"{TLS_DIR}/tls.key",
        "--injection", options.injection.mode,
        "--kit-image", options.injection.kit_image,
    ]
    probe = {"httpGet": {"path": "/healthz", "port": PORT, "scheme": "HTTPS"}, "periodSeconds": 10}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options, labels),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "automountServiceAccountToken": False,  # it reads nothing from the API
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532},
                    "containers": [{
                        "name": "webhook",
                        "image": options.image,
                        "command": command,
                        "ports": [{"name": "https", "containerPort": PORT}],
                        "readinessProbe": probe,
                        "livenessProbe": probe,
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"cpu": "500m", "memory": "256Mi"},
                        },
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "tls", "mountPath": TLS_DIR, "readOnly": True}],
                    }],
                    "volumes": [{"name": "tls", "secret": {"secretName": options.tls_secret}}],
                },
            },
        },
    }


def _service(options: WebhookManifestOptions, labels) -> Dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(options, labels),
        "spec": {
            "selector": {"app.kubernetes.io/name": NAME},
            "ports": [{"name": "https", "port": 443, "targetPort": PORT}],
        },
    }


def _configuration(options: WebhookManifestOptions, labels) -> Dict[str, Any]:
    client: Dict[str, Any] = {
        "service": {"name": NAME, "namespace": options.namespace, "path": "/mutate", "port": 443},
    }
    annotations = None
    if options.ca_bundle is not None:
        client["caBundle"] = base64.b64encode(options.ca_bundle).decode()
    else:
        annotations = {"cert-manager.io/inject-ca-from": f"{options.namespace}/{options.tls_secret}"}
    meta = {"name": "faas-supervisor-inject", "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": meta,
        "webhooks": [{
            "name": "inject.faas-supervisor.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            # A pod asking for injection must not start without it (its command would not exist).
            "failurePolicy": "Fail",
            "reinvocationPolicy": "IfNeeded",
            "timeoutSeconds": 5,
            "clientConfig": client,
            "rules": [{
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }],
            "namespaceSelector": _namespace_selector(options),
        }],
    }


def _namespace_selector(options: WebhookManifestOptions) -> Dict[str, Any]:
    """Which namespaces' pods reach the webhook at all (annotations cannot be selected on).

    With failurePolicy Fail, a webhook outage blocks pod creation wherever it
    applies, so by default only opted-in namespaces are concerned. Even with
    `all_namespaces`, the system namespaces and the webhook's own are excluded:
    the cluster, and the webhook itself, must always be able to start pods.
    """
    if not options.all_namespaces:
        return {"matchLabels": {NAMESPACE_LABEL: "enabled"}}
    return {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": sorted({"kube-system", "kube-public", "kube-node-lease", options.namespace}),
    }]}
