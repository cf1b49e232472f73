"""Asynchronous invocations: one Kubernetes Job per event, running the supervisor with `EVENT`.

As OSCAR's `/job` handler creates it (pkg/handlers/job.go): the body as `EVENT`,
`JOB_UUID` (`<name>-<uuid>`, the name cut to 16 characters when it has 25 or
more) which is also the Job's name, `RESOURCE_ID` from `spec.nodeName`, the
MinIO Secret mounted at /var/run/secrets/providers/minio.default. The UUID is
derived from the event's digest, so rendering and applying the same event twice
does not process it twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from typing import Any, Dict, Optional

from faassupervisor.controlplane import interlink, layout
from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.podspec import service_container, service_pod_spec
from faassupervisor.errors import BadInput

_UUID_NAMESPACE = uuid.UUID("6f1c7a52-5f0e-4a86-9d1e-0c6a9d3b2f41")  # ours: job UUIDs from event digests


def parse_event(data: bytes, where: str) -> str:
    """The body as text: a JSON event, or base64 (what `oscar-cli service job` sends), as `/job` accepts."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadInput(f"{where}: neither a JSON event nor base64 (not UTF-8 text)") from None
    if not text:
        raise BadInput(f"{where}: empty; expected a JSON event or a base64 body")
    try:
        json.loads(text)
        return text
    except ValueError as err:
        json_error = err
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"{where}: neither a JSON event ({json_error}) nor base64") from None
    return text


def event_bucket(event: str) -> Optional[str]:
    """The bucket a MinIO/S3 event (or a delegated one) names; None for another body."""
    try:
        document = json.loads(event)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("event"), dict) and "storage_provider" in document:
        document = document["event"]
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return None
    bucket = ((records[0].get("s3") or {}).get("bucket") or {}).get("name")
    return bucket if isinstance(bucket, str) else None


def event_user(event: str) -> Optional[str]:
    """The MinIO user who caused the event (`userIdentity.principalId`), whose Secret OSCAR mounts."""
    try:
        records = json.loads(event).get("Records")
        principal = records[0]["userIdentity"]["principalId"]
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None
    return principal if isinstance(principal, str) and principal else None


def job_uuid(name: str, event: str) -> str:
    short = name[:16] if len(name) >= 25 else name  # OSCAR's cut keeps the Job name under 63 characters
    digest = hashlib.sha256(event.encode()).hexdigest()
    return f"{short}-{uuid.uuid5(_UUID_NAMESPACE, digest)}"


def job(files: ServiceFiles, options: RenderOptions, event: str) -> Dict[str, Any]:
    config = files.bundle.config
    name = job_uuid(config.name, event)
    node = files.bundle.fields.interlink_node
    if node:
        command, event_value = interlink.job_command(event)
    else:
        # The supervisor reads EVENT when its standard input is empty: no shell needed in the image.
        command, event_value = [layout.SUPERVISOR], event
    container = service_container(files, command=command, fixed={"EVENT": event_value, "JOB_UUID": name})
    container["env"].append({"name": "RESOURCE_ID", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}})
    spec = service_pod_spec(files, options, container)
    if node:
        interlink.place_on_node(spec, node)
    spec["restartPolicy"] = interlink.JOB_RESTART_POLICY if node else "Never"
    job_labels = labels(files.bundle)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": options.metadata(name, job_labels, config.annotations),
        "spec": {
            # A failed script is not retried: a second run could upload its outputs twice.
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": options.job_ttl_seconds,
            "template": {
                "metadata": {"labels": job_labels, "annotations": dict(config.annotations)},
                "spec": spec,
            },
        },
    }
