"""Validating rendered objects: official Kubernetes schemas (kubernetes-validate) and Knative's CRD schema.

Every test that renders objects passes them through `assert_valid`. The
Knative CRD schema is made strict (unknown fields rejected) because the API
server would silently prune them, which hides typos; and the Knative
revision's pod spec is also checked as a core Pod, since the CRD leaves
`initContainers` and most volume sources unchecked.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).parent
KNATIVE_CRD = HERE / "schemas" / "knative-serving-service-crd.yaml"
# The oldest Kubernetes still commonly run, and the newest the pinned kubernetes-validate knows.
K8S_VERSIONS = ("1.29", "1.37")
# Fields of a Knative RevisionSpec that are not PodSpec fields.
_REVISION_ONLY = ("containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds")


class InvalidObject(AssertionError):
    pass


def assert_valid(objects) -> None:
    for obj in objects:
        where = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
        if obj.get("apiVersion") == "serving.knative.dev/v1":
            _validate_knative(obj, where)
        else:
            _validate_k8s(obj, where)


def _validate_k8s(obj, where: str) -> None:
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = "/".join(str(p) for p in err.path)
            raise InvalidObject(f"{where} (Kubernetes {version}) at {path}: {err.message}") from None


@functools.lru_cache(maxsize=1)
def _knative_validator():
    crd = yaml.safe_load(KNATIVE_CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return jsonschema.Draft7Validator(schema)


def _strict(schema):
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


def _validate_knative(obj, where: str) -> None:
    errors = sorted(_knative_validator().iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        raise InvalidObject(f"{where} (Knative CRD) at {'/'.join(map(str, err.path))}: {err.message}")
    template = obj["spec"]["template"]
    pod_spec = {k: v for k, v in template["spec"].items() if k not in _REVISION_ONLY}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": dict(template.get("metadata", {}), name="revision"),
           "spec": pod_spec}
    _validate_k8s(pod, f"{where} revision pod")


def fixed_random():
    """A deterministic stand-in for os.urandom, so rendered tokens and salts are reproducible."""
    counter = itertools.count()

    def random_bytes(n: int) -> bytes:
        return hashlib.sha256(f"faas-supervisor-test-{next(counter)}".encode()).digest()[:n]

    return random_bytes
