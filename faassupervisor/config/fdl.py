"""OSCAR's FDL (Functions Definition Language) file: several services, shared storage providers.

The FDL wraps service mappings as `functions.oscar[*].<cluster-id>` and keeps
`storage_providers` at the top. Each service is parsed by the same
`ServiceConfig.from_mapping` the supervisor uses for `function_config.yaml`,
with the top-level providers merged into it, so the control plane and
`faas-supervisor run --config` agree on what a service is.
"""

from __future__ import annotations

from collections.abc import Mapping

from faassupervisor.config.service import ServiceConfig, _mapping, _providers
from faassupervisor.errors import BadConfig
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Optional, Tuple


@record
class FdlService:
    """One service of an FDL file and the cluster it is declared for."""

    cluster_id: str
    config: ServiceConfig


@record
class Fdl:
    services: Tuple[FdlService, ...]

    def select(self, name: Optional[str] = None, cluster_id: Optional[str] = None) -> FdlService:
        """The service called `name` (or the only/first one), optionally on one cluster."""
        candidates = [s for s in self.services if cluster_id is None or s.cluster_id == cluster_id]
        if name is not None:
            candidates = [s for s in candidates if s.config.name == name]
        if not candidates:
            wanted = f"service {name!r}" if name else "a service"
            where = f" on cluster {cluster_id!r}" if cluster_id else ""
            raise BadConfig(f"functions.oscar: no {wanted}{where} in the FDL")
        return candidates[0]


def is_fdl(document: Any) -> bool:
    return isinstance(document, Mapping) and "functions" in document


def parse_fdl(document: Any, where: str = "FDL") -> Fdl:
    document = _mapping(document, where)
    functions = _mapping(document.get("functions"), "functions")
    entries = functions.get("oscar")
    if not isinstance(entries, list) or not entries:
        raise BadConfig("functions.oscar: expected a non-empty list of '<cluster-id>: <service>' entries")
    shared = _providers(document.get("storage_providers"), "storage_providers")
    services = []
    for i, entry in enumerate(entries):
        entry = _mapping(entry, f"functions.oscar[{i}]")
        for cluster_id, service in entry.items():
            service = dict(_mapping(service, f"functions.oscar[{i}].{cluster_id}"))
            name = service.get("name", f"#{i}")
            # Top-level providers first; a service's own section wins for the same id.
            merged = {kind: dict(ids) for kind, ids in shared.items()}
            for kind, ids in _providers(service.get("storage_providers"), "storage_providers").items():
                merged.setdefault(kind, {}).update(ids)
            service["storage_providers"] = merged
            try:
                config = ServiceConfig.from_mapping(service, f"service {name}")
            except BadConfig as err:
                raise BadConfig(f"service {name!r} (cluster {cluster_id}): {err}") from None
            services.append(FdlService(str(cluster_id), config))
    return Fdl(tuple(services))
