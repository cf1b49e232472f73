"""FDL → the Kubernetes objects of each service, in the order `kubectl apply` wants them.

Config objects come first (the workloads mount them), then the workload:
a Knative Service for a synchronous service, or the Deployment family for an
exposed one. Jobs are rendered one event at a time by `render_job`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from faassupervisor.controlplane.bundle import ServiceBundle, load_bundles, select_bundle
from faassupervisor.controlplane import layout
from faassupervisor.controlplane.checks import check_object_name
from faassupervisor.controlplane.config_objects import (
    ServiceFiles,
    config_map,
    config_secret,
    minio_secret,
    user_secret,
)
from faassupervisor.controlplane.expose import expose_objects
from faassupervisor.controlplane.job import event_bucket, event_user, job
from faassupervisor.controlplane.knative import knative_service
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.volume import claim
from faassupervisor.errors import BadInput


def render_service(bundle: ServiceBundle, options: RenderOptions) -> List[Dict[str, Any]]:
    files = ServiceFiles.build(bundle, options)
    objects = [config_map(files, options), config_secret(files, options)]
    for extra in (user_secret(files, options), minio_secret(files, options), claim(files, options)):
        if extra is not None:
            objects.append(extra)
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
    bucket = event_bucket(event)
    if bucket is not None:
        # What OSCAR's MinIO would never send: an event from a bucket the service does not watch.
        buckets = sorted({entry.bucket for entry in bundle.config.input})
        if bucket not in buckets:
            raise BadInput(f"--event: bucket {bucket!r} is no input of service {bundle.name!r}"
                           f" (its inputs: {', '.join(buckets) or 'none'})")
    return job(ServiceFiles.build(bundle, options, minio_user=_minio_user(bundle, event)), options, event)


def _minio_user(bundle: ServiceBundle, event: str) -> Optional[str]:
    """The Secret OSCAR mounts for the event's user (pkg/handlers/job.go): the owner's is `minio`."""
    user = event_user(event)
    if user is None or user == bundle.config.raw.get("owner"):
        return None
    name = layout.format_uid(user)
    check_object_name(name, "--event: Records[0].userIdentity.principalId")
    return name
