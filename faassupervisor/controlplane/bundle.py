"""An FDL file turned into deployable services: each parsed once, checked, with its script read.

The FDL is parsed by the supervisor's own `parse_fdl` (one model for both);
what only deployment needs (the script file beside the FDL, Kubernetes names)
is checked here. Every error names the service, its cluster and the field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

from faassupervisor.config.fdl import is_fdl, parse_fdl
from faassupervisor.config.loader import parse_yaml
from faassupervisor.config.service import ServiceConfig
from faassupervisor.controlplane.checks import check_service
from faassupervisor.controlplane.oscar_fields import OscarFields
from faassupervisor.errors import BadConfig


@dataclasses.dataclass(frozen=True)
class ServiceBundle:
    """One service of an FDL, ready to render."""

    cluster_id: str
    config: ServiceConfig
    script: bytes
    fields: OscarFields

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def where(self) -> str:
        return f"service {self.name!r} (cluster {self.cluster_id})"


def load_bundles(fdl_path: Path, cluster_id: Optional[str] = None) -> List[ServiceBundle]:
    """Every service of the FDL (of one cluster when `cluster_id` is given), checked, scripts read."""
    document = parse_yaml(_read(fdl_path, "FDL"), str(fdl_path))
    if not is_fdl(document):
        raise BadConfig(f"{fdl_path}: not an FDL file (expected 'functions: oscar: [...]')")
    # The model keeps each port list's first port; the rendered config and objects keep them all
    # (`config.raw`, read by `OscarFields`).
    services = list(parse_fdl(document, str(fdl_path)).services)
    if cluster_id is not None:
        clusters = sorted({s.cluster_id for s in services})
        services = [s for s in services if s.cluster_id == cluster_id]
        if not services:
            raise BadConfig(f"--cluster: no service for cluster {cluster_id!r} (the FDL has: {', '.join(clusters)})")
    bundles: List[ServiceBundle] = []
    seen = set()
    for service in services:
        where = f"service {service.config.raw.get('name', '?')!r} (cluster {service.cluster_id})"
        try:
            fields = OscarFields.from_raw(service.config.raw, service.config.raw.get("name", ""))
            check_service(service.config, fields)
            assert service.config.script is not None  # check_service refuses a service without one
            script = _read_script(fdl_path.parent, service.config.script)
        except BadConfig as err:
            raise BadConfig(f"{where}: {err}") from None
        if service.config.name in seen:
            raise BadConfig(f"{where}: name: declared twice; rendered objects would overwrite each other")
        seen.add(service.config.name)
        bundles.append(ServiceBundle(service.cluster_id, service.config, script, fields))
    return bundles


def select_bundle(bundles: List[ServiceBundle], name: Optional[str]) -> ServiceBundle:
    """The service called `name`, or the only one."""
    names = ", ".join(b.name for b in bundles)
    if name is None:
        if len(bundles) > 1:
            raise BadConfig(f"--service: the FDL declares several services ({names}); name one")
        return bundles[0]
    for bundle in bundles:
        if bundle.name == name:
            return bundle
    raise BadConfig(f"--service: no service {name!r} in the FDL (it has: {names})")


def _read_script(base: Path, script: str) -> bytes:
    path = Path(script)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise BadConfig(f"script: no such file: {path}")
    return _read(path, "script")


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BadConfig(f"{field}: cannot read {path}: {err.strerror}") from None
