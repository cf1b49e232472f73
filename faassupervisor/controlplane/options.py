"""Render options: everything the rendered objects depend on besides the FDL, parsed once from the CLI."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, Optional

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.injection import Injection


@dataclasses.dataclass(frozen=True)
class WatchdogSettings:
    """The watchdog variables set in every synchronous pod (OSCAR's defaults)."""

    read_timeout: int = 300
    write_timeout: int = 300
    exec_timeout: int = 0  # 0: no limit, as in the classic watchdog
    max_inflight: int = 1  # one invocation per pod at a time, as OSCAR configures it
    # How long a terminating pod answers 503 on /_/health before it stops (OSCAR's
    # WATCHDOG_HEALTHCHECK_INTERVAL, 5). Unset, the watchdog waits write_timeout: minutes per scale-down.
    healthcheck_interval: int = 5

    def environment(self, fprocess: str) -> Dict[str, str]:
        return {
            "fprocess": fprocess,
            "read_timeout": str(self.read_timeout),
            "write_timeout": str(self.write_timeout),
            "exec_timeout": str(self.exec_timeout),
            "max_inflight": str(self.max_inflight),
            "healthcheck_interval": str(self.healthcheck_interval),
        }


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    namespace: Optional[str] = None  # None: kubectl's current namespace
    injection: Injection = Injection()
    watchdog: WatchdogSettings = WatchdogSettings()
    # Knative Services are cluster-local as OSCAR renders them (knative.go): only OSCAR's
    # manager reaches them. Public ones need the token on every path (token_on_every_path).
    public: bool = False
    ingress_class: str = "nginx"
    ingress_host: Optional[str] = None
    # OSCAR's INGRESS_SERVICES_CORS_ALLOWED_ORIGINS (pkg/types/config.go), for exposed services.
    cors_allow_origin: str = layout.OSCAR_CORS_ORIGINS
    job_ttl_seconds: int = 3600
    oscar_version: int = 4  # names the exposed Deployment: `-dlp` (3.x) or `-dpl` (4.x)
    # The Secret with `accessKey`/`secretKey` mounted at /var/run/secrets/providers/minio.default
    # (None: OSCAR's naming, or the one rendered from the FDL's keys).
    minio_secret: Optional[str] = None
    # minio.default's endpoint when the FDL gives none (OSCAR's MINIO_ENDPOINT default).
    minio_endpoint: str = layout.OSCAR_MINIO_ENDPOINT
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
