"""`volume`: the PersistentVolumeClaim of a service's managed volume, when the FDL asks for a new one.

OSCAR creates it when `volume.size` is given (pkg/backends/resources/volume.go
CreateManagedVolume): ReadWriteMany, named `volume.name` or the service name,
in the cluster's storage class (here: the cluster's default). Without `size`
the FDL attaches an existing claim of that name, and nothing is rendered.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from faassupervisor.controlplane.config_objects import ServiceFiles, labels
from faassupervisor.controlplane.options import RenderOptions


def claim(files: ServiceFiles, options: RenderOptions) -> Optional[Dict[str, Any]]:
    volume = files.bundle.fields.volume
    if volume is None or volume.size is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": options.metadata(volume.claim, labels(files.bundle)),
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": volume.size}}},
    }
