"""The mutating admission webhook: the same injection as `render`, for pods someone else wrote.

A pod annotated `faas-supervisor.io/inject: "true"` gets the runtime at
/oscar/bin (init container or OSCAR's PVC), optionally its config at
/oscar/config, and the watchdog (or the supervisor) as its command, through a
JSONPatch in an AdmissionReview v1 response. Every other pod is allowed
untouched; a pod already injected is left alone; a malformed review or a
contradictory annotation gets `allowed: false` with a one-line reason. The
decision is a pure function (`review`), wrapped by a small Flask app.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any, Dict, List, Mapping, Optional

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.checks import check_object_name
from faassupervisor.controlplane.injection import (
    Injection,
    add_config,
    config_volume,
    inject_runtime,
    is_injected,
    set_env,
)
from faassupervisor.controlplane.options import WatchdogSettings
from faassupervisor.errors import BadConfig

log = logging.getLogger(__name__)

ADMISSION_API = "admission.k8s.io/v1"
RUN_MODES = ("watchdog", "supervisor", "none")
MAX_REVIEW_BYTES = 8 << 20  # far above any Pod the API server admits (etcd's limit is 1.5 MiB)


class MalformedReview(Exception):
    """The request is not an AdmissionReview v1 we can answer."""


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    injection: Injection = Injection()
    watchdog: WatchdogSettings = WatchdogSettings()


def review(document: Any, settings: WebhookSettings) -> Dict[str, Any]:
    """The AdmissionReview response for one AdmissionReview request (already JSON-decoded)."""
    uid = ""
    try:
        request = _request(document)
        uid = request["uid"]
        kind = request.get("kind")
        if request.get("operation") != "CREATE" or not isinstance(kind, Mapping) or kind.get("kind") != "Pod":
            return _answer(uid, allowed=True)
        pod = _pod(request.get("object"))
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(layout.INJECT_ANNOTATION, "")).lower() != "true":
            return _answer(uid, allowed=True)
        if annotations.get(layout.STATUS_ANNOTATION) == "injected" or is_injected(pod["spec"]):
            log.info("%s: already injected; left alone", _pod_name(pod, request))
            return _answer(uid, allowed=True)
        patched = inject_pod(pod, settings)
    except MalformedReview as err:
        log.warning("malformed admission review: %s", err)
        return _answer(uid, allowed=False, message=f"faas-supervisor: malformed AdmissionReview: {err}")
    except BadConfig as err:
        log.warning("%s: not injected: %s", _pod_name(pod, request), err)
        return _answer(uid, allowed=False, message=f"faas-supervisor: cannot inject this pod: {err}")
    log.info("%s: injected", _pod_name(pod, request))
    return _answer(uid, allowed=True, patch=json_patch(pod, patched))


def inject_pod(pod: Mapping[str, Any], settings: WebhookSettings) -> Dict[str, Any]:
    """The pod as it should be admitted; raises BadConfig naming the annotation at fault."""
    annotations = dict((pod.get("metadata") or {}).get("annotations") or {})
    spec = pod["spec"]
    containers = spec.get("containers") or []
    if not containers:
        raise BadConfig("spec.containers: the pod has no container")
    container = annotations.get(layout.CONTAINER_ANNOTATION) or containers[0].get("name")
    run = annotations.get(layout.RUN_ANNOTATION, "watchdog")
    if run not in RUN_MODES:
        raise BadConfig(f"annotation {layout.RUN_ANNOTATION}: expected one of {', '.join(RUN_MODES)}, got {run!r}")
    mode = annotations.get(layout.INJECTION_ANNOTATION, settings.injection.mode)
    if mode not in layout.INJECTION_MODES:
        raise BadConfig(
            f"annotation {layout.INJECTION_ANNOTATION}: expected one of {', '.join(layout.INJECTION_MODES)}, got {mode!r}"
        )
    spec = inject_runtime(spec, dataclasses.replace(settings.injection, mode=mode), container)
    config_map = annotations.get(layout.CONFIG_ANNOTATION)
    secret = annotations.get(layout.CONFIG_SECRET_ANNOTATION)
    for value, key in ((config_map, layout.CONFIG_ANNOTATION), (secret, layout.CONFIG_SECRET_ANNOTATION)):
        if value is not None:
            check_object_name(value, f"annotation {key}")
    if config_map or secret:
        spec = add_config(spec, container, config_volume(config_map, secret))
    target = next(c for c in spec["containers"] if c.get("name") == container)
    if run == "watchdog":
        target["command"] = [layout.WATCHDOG]
        target.pop("args", None)
        # The pod's own values win: its author may have tuned the watchdog.
        set_env(target, settings.watchdog.environment(fprocess=layout.SUPERVISOR), override=False)
    elif run == "supervisor":
        target["command"] = [layout.SUPERVISOR]
        target.pop("args", None)
    annotations[layout.STATUS_ANNOTATION] = "injected"
    patched = dict(pod)
    patched["metadata"] = dict(pod.get("metadata") or {}, annotations=annotations)
    patched["spec"] = spec
    return patched


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """RFC 6902 operations turning `before` into `after`.

    Whole lists are replaced (`add` on an existing member replaces it): the
    patch is computed from the very object the API server sent, and is simpler
    to check than element-wise operations whose indexes depend on each other.
    """
    ops: List[Dict[str, Any]] = []
    for key in ("initContainers", "containers", "volumes"):
        if before["spec"].get(key) != after["spec"].get(key):
            ops.append({"op": "add", "path": f"/spec/{key}", "value": after["spec"][key]})
    if not (before.get("metadata") or {}):
        ops.append({"op": "add", "path": "/metadata", "value": {}})
    ops.append({"op": "add", "path": "/metadata/annotations", "value": after["metadata"]["annotations"]})
    return ops


def _request(document: Any) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise MalformedReview("expected a JSON object")
    if document.get("apiVersion") != ADMISSION_API or document.get("kind") != "AdmissionReview":
        raise MalformedReview(
            f"expected apiVersion {ADMISSION_API} and kind AdmissionReview,"
            f" got {document.get('apiVersion')!r} {document.get('kind')!r}"
        )
    request = document.get("request")
    if not isinstance(request, Mapping):
        raise MalformedReview("request: missing")
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        raise MalformedReview("request.uid: missing")
    return request


def _pod(pod: Any) -> Mapping[str, Any]:
    """The Pod, checked to have the shape the injection walks through."""
    if not isinstance(pod, Mapping) or not isinstance(pod.get("spec"), Mapping):
        raise MalformedReview("request.object: expected a Pod with a spec")
    meta = pod.get("metadata") or {}
    if not isinstance(meta, Mapping) or not isinstance(meta.get("annotations") or {}, Mapping):
        raise MalformedReview("request.object.metadata: expected a mapping with string annotations")
    for key in ("containers", "initContainers", "volumes"):
        items = pod["spec"].get(key) or []
        if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
            raise MalformedReview(f"request.object.spec.{key}: expected a list of objects")
    for container in pod["spec"].get("containers") or []:
        for key in ("volumeMounts", "env"):
            items = container.get(key) or []
            if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
                raise MalformedReview(f"request.object.spec.containers[].{key}: expected a list of objects")
    return pod


def _answer(uid: str, allowed: bool, message: Optional[str] = None, patch=None) -> Dict[str, Any]:
    response: Dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message is not None:
        response["status"] = {"code": 400, "message": message}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode()
    return {"apiVersion": ADMISSION_API, "kind": "AdmissionReview", "response": response}


def _pod_name(pod: Any, request: Any) -> str:
    meta = (pod.get("metadata") if isinstance(pod, Mapping) else None) or {}
    name = meta.get("name") or (meta.get("generateName") or "?") + "*"
    namespace = (request.get("namespace") if isinstance(request, Mapping) else None) or meta.get("namespace") or "?"
    return f"pod {namespace}/{name}"


def create_app(settings: WebhookSettings):
    """The Flask app: POST /mutate (AdmissionReview v1), GET /healthz."""
    from flask import Flask, Response, request  # deferred: only `faas-supervisor inject` serves

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REVIEW_BYTES

    @app.post("/mutate")
    def mutate():
        try:
            document = json.loads(request.get_data())
        except ValueError as err:
            document = None
            log.warning("admission review is not JSON: %s", err)
        answer = review(document, settings) if document is not None else _answer(
            "", allowed=False, message="faas-supervisor: malformed AdmissionReview: not JSON")
        return Response(json.dumps(answer), status=200, mimetype="application/json")

    @app.get("/healthz")
    def healthz():
        return Response("ok\n", mimetype="text/plain")

    return app
