"""Checks only the control plane needs: a service the supervisor could run may still not be deployable.

`ServiceConfig.from_mapping` already checked types; here: names Kubernetes
accepts, required fields, coherent scale bounds, resource quantities, ports,
reserved variables. Each failure is one `BadConfig` line naming the field;
the caller prefixes the service and cluster.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from faassupervisor.config.service import ServiceConfig
from faassupervisor.controlplane.oscar_fields import OscarFields
from faassupervisor.errors import BadConfig

log = logging.getLogger(__name__)

# OSCAR limits names to 39 characters so that every derived name
# (`<name>-00001-private` for Knative, `<name>-<hash>` for Jobs) stays a valid label;
# starting with a letter (DNS-1035) because Kubernetes Services are named after it.
NAME_MAX = 39
_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_QUANTITY = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]+)?")

RESERVED_VARIABLES = ("OSCAR_SERVICE_NAME", "OSCAR_SERVICE_TOKEN", "OSCAR_SERVICE_BASE_PATH")
KNATIVE_RESERVED = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")  # Knative sets these itself

# Fields of OSCAR's service (pkg/types/service.go) that need an OSCAR-side component we do not
# have: rendering them is impossible, so each gets a warning naming what is missing.
_NOT_RENDERED = {
    "image_prefetch": "needs OSCAR's image-prefetcher DaemonSet; pull the image ahead yourself",
    "total_cpu": "needs Apache YuniKorn's per-service queue, which OSCAR configures",
    "total_memory": "needs Apache YuniKorn's per-service queue, which OSCAR configures",
    "replicas": "needs OSCAR's manager to delegate invocations to other clusters",
    "federation": "needs OSCAR's manager to delegate invocations to other clusters",
    "kserve": "needs KServe and OSCAR's manager to create the InferenceService",
}
# Fields we read or render, and OSCAR's bookkeeping fields that do not affect the pod.
_KNOWN = (
    "name", "image", "script", "memory", "cpu", "enable_gpu", "log_level", "file_stage_in", "input", "output",
    "storage_providers", "environment", "image_pull_secrets", "labels", "annotations", "synchronous",
    "expose", "token", "cluster_id", "owner", "vo", "visibility", "allowed_users", "isolation_level",
    "bucket_list", "delegation", "rescheduler_threshold", "clusters", "alpine", "enable_sgx", "mount", "volume",
    "interlink_node_name", "ephemeral_storage_request", "namespace", "volume_status", "deployment",
) + tuple(_NOT_RENDERED)


def check_service(config: ServiceConfig, fields: OscarFields) -> None:
    raw: Mapping[str, Any] = config.raw
    if "name" not in raw:
        raise BadConfig("name: required")
    check_name(config.name, "name")
    if not config.image:
        raise BadConfig("image: required (the container image to run)")
    if not config.script:
        raise BadConfig("script: required (the path of the user script, relative to the FDL)")
    _check_scale(config.synchronous.min_scale, config.synchronous.max_scale, "synchronous", unlimited_max=True)
    quantities = {"cpu": config.cpu, "memory": config.memory, "ephemeral_storage_request": fields.ephemeral_storage,
                  "volume.size": fields.volume.size if fields.volume else None}
    for field, value in quantities.items():
        if value is not None and not _QUANTITY.fullmatch(value):
            raise BadConfig(f"{field}: {value!r} is not a Kubernetes quantity (like '1', '500m', '2Gi')")
    for i, secret in enumerate(config.image_pull_secrets):
        check_object_name(secret, f"image_pull_secrets[{i}]")
    for field, mapping in (("labels", config.labels), ("annotations", config.annotations)):
        for key in mapping:
            _check_qualified_key(key, f"{field}.{key}")
    for key, value in config.labels.items():
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise BadConfig(f"labels.{key}: {value!r} is not a valid label value (at most 63 letters, digits, '-_.')")
    exposed = config.expose is not None and config.expose.exposed
    for name in config.environment:
        if name in RESERVED_VARIABLES:
            raise BadConfig(f"environment.Variables.{name}: reserved, set by the control plane")
        if name in KNATIVE_RESERVED and not exposed:
            raise BadConfig(f"environment.Variables.{name}: reserved by Knative for synchronous services")
    if fields.volume is not None:
        check_object_name(fields.volume.claim, "volume.name")
    if raw.get("expose"):
        _check_expose(config, fields)
    _warn_unrendered(raw)


def check_name(name: str, field: str) -> None:
    if len(name) > NAME_MAX or not _NAME.fullmatch(name):
        raise BadConfig(
            f"{field}: {name!r} is not a valid service name (a DNS-1123 label: lowercase letters, digits"
            f" and '-', starting with a letter, at most {NAME_MAX} characters)"
        )


def _check_expose(config: ServiceConfig, fields: OscarFields) -> None:
    expose = config.expose
    assert expose is not None  # called only for a service with an expose section
    if not fields.ports.api:
        raise BadConfig("expose.api_port: required to expose a service (the port its server listens on)")
    auth_type = str((config.raw.get("expose") or {}).get("auth_type") or "basic").strip().lower()
    if expose.set_auth and auth_type != "basic":
        # OSCAR's `forward` auth asks its manager's /auth endpoint through a Gateway HTTPRoute.
        log.warning("service %r: expose.auth_type %r is not rendered: it needs OSCAR's manager and a Gateway"
                    " HTTPRoute; basic auth (the token as password) is rendered instead", config.name, auth_type)
    if expose.set_auth and not fields.ports.has_ingress:
        # As OSCAR: a fixed nodePort means no Ingress, hence no basic auth in front of the server.
        log.warning("service %r: expose.set_auth has no effect with a fixed expose.nodePort (no Ingress, no auth)",
                    config.name)
    if expose.min_scale < 1:
        raise BadConfig(f"expose.min_scale: must be at least 1, got {expose.min_scale}")
    _check_scale(expose.min_scale, expose.max_scale, "expose", unlimited_max=False)
    if expose.cpu_threshold < 1:
        raise BadConfig(f"expose.cpu_threshold: must be a positive percentage, got {expose.cpu_threshold}")
    if expose.health_path is not None and not expose.health_path.startswith("/"):
        raise BadConfig(f"expose.health_path: must start with '/', got {expose.health_path!r}")
    if config.cpu is None:
        log.warning("service %r: expose.cpu_threshold has no effect without `cpu` (the HPA measures against it)",
                    config.name)


def _check_scale(low: int, high: int, field: str, unlimited_max: bool) -> None:
    if low < 0:
        raise BadConfig(f"{field}.min_scale: must not be negative, got {low}")
    if high < 0 or (high == 0 and not unlimited_max):
        raise BadConfig(f"{field}.max_scale: must be positive, got {high}")
    if high and low > high:
        raise BadConfig(f"{field}.min_scale: {low} is greater than {field}.max_scale: {high}")


def check_object_name(name: str, field: str) -> None:
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise BadConfig(f"{field}: {name!r} is not a valid Kubernetes object name")


def _check_qualified_key(key: str, field: str) -> None:
    prefix, _, name = key.rpartition("/")
    if len(name) > 63 or (prefix and len(prefix) > 253):
        raise BadConfig(f"{field}: key too long (prefix at most 253, name at most 63 characters)")


def _warn_unrendered(raw: Mapping[str, Any]) -> None:
    name = raw.get("name")
    for key in raw:
        if key in _NOT_RENDERED:
            if raw[key] in (None, False, "", 0, [], {}):
                continue  # OSCAR writes every field, empty, into function_config.yaml
            log.warning("service %r: %s is not rendered: it %s", name, key, _NOT_RENDERED[key])
        elif key not in _KNOWN:
            log.warning("service %r: %s is not a field of an OSCAR service (a typo?); ignored", name, key)
