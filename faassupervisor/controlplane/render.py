"""FDL → the Kubernetes objects of each service, in the order `kubectl apply` wants them.

Config objects come first (the workloads mount them), then the workload:
a Knative Service for a synchronous service, or the Deployment family for an
exposed one. Jobs are rendered one event at a time by `render_job`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from faassupervisor.controlplane.bundle import ServiceBundle, load_bundles, select_bundle
from faassupervisor.controlplane.config_objects import ServiceFiles, config_map, config_secret, user_secret
from faassupervisor.controlplane.expose import expose_objects
from faassupervisor.controlplane.job import job
from faassupervisor.controlplane.knative import knative_service
from faassupervisor.controlplane.options import RenderOptions


def render_service(bundle: ServiceBundle, options: RenderOptions) -> List[Dict[str, Any]]:
    files = ServiceFiles.build(bundle, options)
    objects = [config_map(files, options), config_secret(files, options)]
    secret = user_secret(files, options)
    if secret is not None:
        objects.append(secret)
    expose = bundle.config.expose
    if expose is not None and expose.exposed:
        objects.extend(expose_objects(files, options))
    else:
        objects.append(knative_service(files, options))
    return objects


def render_fdl(fdl_path: Path, options: RenderOptions, cluster_id: Optional[str] = None) -> List[Dict[str, Any]]:
    objects: List[Dict[str, Any]] = []
    for bundle in load_bundles(fdl_path, cluster_id):
        objects.extend(render_service(bundle, options))
    return objects


def render_job(
    fdl_path: Path,
    options: RenderOptions,
    event: str,
    service: Optional[str] = None,
    cluster_id: Optional[str] = None,
) -> Dict[str, Any]:
    """The Job for one event; the service's ConfigMap and Secret come from `render` (apply that first)."""
    bundle = select_bundle(load_bundles(fdl_path, cluster_id), service)
    return job(ServiceFiles.build(bundle, options), options, event)
