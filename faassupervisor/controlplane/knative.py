"""Synchronous services: a Knative Service running the watchdog, which forks the supervisor per request.

Cluster-local by default, as OSCAR renders it (pkg/backends/knative.go): only
OSCAR's manager, which checks the token or OIDC, reaches it. `--public` makes it
external, and then the watchdog asks for the token on every invocation path
(`token_on_every_path=true`), not only on /run and /job.
"""

from __future__ import annotations

import logging
from typing import Any, Dict

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.podspec import service_container, service_pod_spec, template_metadata

MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
VISIBILITY = "networking.knative.dev/visibility"
HEALTH_PATH = "/_/health"
KNATIVE_MAX_TIMEOUT = 600  # Knative's default max-revision-timeout-seconds

log = logging.getLogger(__name__)


def knative_service(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    config = files.bundle.config
    fixed = {"token_on_every_path": "true"} if options.public else {}
    container = service_container(
        files,
        command=[layout.WATCHDOG],
        defaults=options.watchdog.environment(fprocess=layout.SUPERVISOR),
        fixed=fixed,
    )
    # Knative routes to the one declared port; `http1` is its name for plain HTTP/1.1.
    container["ports"] = [{"name": "http1", "containerPort": layout.WATCHDOG_PORT}]
    container["readinessProbe"] = {"httpGet": {"path": HEALTH_PATH, "port": layout.WATCHDOG_PORT}}
    # As OSCAR: `mount` goes to the service's Jobs and exposed pods only; Knative refuses a privileged sidecar.
    spec = service_pod_spec(files, options, container, with_mount=False)
    if files.bundle.fields.mount is not None:
        log.warning("service %r: mount is rendered in its Jobs (render-job), not in its Knative Service,"
                    " which admits no privileged sidecar (as OSCAR)", config.name)
    # Knative sends a pod no more requests than the watchdog admits (max_inflight), and
    # waits for a response as long as the watchdog may take to write it.
    spec["containerConcurrency"] = options.watchdog.max_inflight
    spec["timeoutSeconds"] = options.watchdog.write_timeout
    if options.watchdog.write_timeout > KNATIVE_MAX_TIMEOUT:
        log.warning("service %r: a write timeout of %ss needs Knative's max-revision-timeout-seconds raised"
                    " (default %s)", config.name, options.watchdog.write_timeout, KNATIVE_MAX_TIMEOUT)
    service_labels = labels(files.bundle)
    if not options.public:
        service_labels[VISIBILITY] = "cluster-local"
    scale = {MIN_SCALE: str(config.synchronous.min_scale), MAX_SCALE: str(config.synchronous.max_scale)}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": options.metadata(config.name, service_labels, config.annotations),
        "spec": {
            "template": {
                "metadata": template_metadata(files, labels(files.bundle), scale),
                "spec": spec,
            }
        },
    }
