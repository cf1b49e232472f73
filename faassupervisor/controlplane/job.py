"""Asynchronous invocations: one Kubernetes Job per storage event, running the supervisor with `EVENT`.

The Job is named after a digest of the event, so rendering and applying the
same event twice does not process it twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.podspec import service_container, service_pod_spec
from faassupervisor.errors import BadInput

_DIGEST_CHARS = 10


def parse_event(data: bytes, where: str) -> str:
    """The event as text, checked to be a JSON document (the supervisor would reject anything else)."""
    try:
        text = data.decode("utf-8").strip()
        json.loads(text)
    except (UnicodeDecodeError, ValueError) as err:
        raise BadInput(f"{where}: not a JSON event: {err}") from None
    return text


def job(files: ServiceFiles, options: RenderOptions, event: str) -> Dict[str, Any]:
    config = files.bundle.config
    digest = hashlib.sha256(event.encode()).hexdigest()[:_DIGEST_CHARS]
    container = service_container(
        files,
        command=[layout.SUPERVISOR],
        base_path=f"/job/{config.name}",
        fixed={"EVENT": event},  # the supervisor reads it when its standard input is empty
    )
    spec = service_pod_spec(files, options, container)
    spec["restartPolicy"] = "Never"
    job_labels = labels(files.bundle)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": options.metadata(f"{config.name}-{digest}", job_labels, config.annotations),
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
