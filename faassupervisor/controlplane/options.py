"""Render options: everything the rendered objects depend on besides the FDL, parsed once from the CLI."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, Optional

from faassupervisor.controlplane.injection import Injection


@dataclasses.dataclass(frozen=True)
class WatchdogSettings:
    """The watchdog variables set in every synchronous pod (OSCAR's defaults)."""

    read_timeout: int = 300
    write_timeout: int = 300
    exec_timeout: int = 0  # 0: no limit, as in the classic watchdog
    max_inflight: int = 1  # one invocation per pod at a time, as OSCAR configures it

    def environment(self, fprocess: str) -> Dict[str, str]:
        return {
            "fprocess": fprocess,
            "read_timeout": str(self.read_timeout),
            "write_timeout": str(self.write_timeout),
            "exec_timeout": str(self.exec_timeout),
            "max_inflight": str(self.max_inflight),
        }


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    namespace: Optional[str] = None  # None: kubectl's current namespace
    injection: Injection = Injection()
    watchdog: WatchdogSettings = WatchdogSettings()
    cluster_local: bool = False  # Knative visibility: reachable only inside the cluster
    ingress_class: str = "nginx"
    ingress_host: Optional[str] = None
    job_ttl_seconds: int = 3600
    # The only source of randomness (service tokens, password salts): tests pass a deterministic one.
    random_bytes: Callable[[int], bytes] = dataclasses.field(default=os.urandom, compare=False)

    def metadata(self, name: str, labels=None, annotations=None) -> dict:
        meta: dict = {"name": name}
        if self.namespace:
            meta["namespace"] = self.namespace
        if labels:
            meta["labels"] = dict(labels)
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta
