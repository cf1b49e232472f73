"""The objects that carry a service's files: the script (ConfigMap) and its config (Secret).

function_config.yaml goes in a Secret, not in a ConfigMap as OSCAR does: it
carries the `storage_providers` credentials. The Secret also holds the service
token, which pods read through `secretKeyRef` rather than from a plain value in
the workload's spec.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any, Dict, Optional

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.bundle import ServiceBundle
from faassupervisor.controlplane.options import RenderOptions

TOKEN_KEY = "token"


@dataclasses.dataclass(frozen=True)
class ServiceFiles:
    """What one render decides for a service: its token and the text of its files."""

    bundle: ServiceBundle
    token: str
    function_config: str

    @classmethod
    def build(cls, bundle: ServiceBundle, options: RenderOptions) -> "ServiceFiles":
        import yaml  # deferred: the supervisor's start-up never renders

        # OSCAR's tokens are 64 hex characters; a fresh one per render unless the FDL fixes it.
        token = bundle.config.token or options.random_bytes(32).hex()
        text = yaml.safe_dump(dict(bundle.config.raw), sort_keys=False, default_flow_style=False, allow_unicode=True)
        return cls(bundle, token, text)

    @property
    def digest(self) -> str:
        """Changes whenever the script, the config or the token does: annotated on pod templates to roll them."""
        hasher = hashlib.sha256()
        for part in (self.bundle.script, self.function_config.encode(), self.token.encode()):
            hasher.update(hashlib.sha256(part).digest())
        return hasher.hexdigest()[:16]


def labels(bundle: ServiceBundle) -> Dict[str, str]:
    """The user's labels plus ours, which identify the service (ours win on a clash)."""
    out = dict(bundle.config.labels)
    out.update(layout.MANAGED_BY)
    out["app.kubernetes.io/name"] = bundle.name
    out[layout.OSCAR_SERVICE_LABEL] = bundle.name
    return out


def config_map(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    bundle = files.bundle
    obj: Dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": options.metadata(layout.config_map_name(bundle.name), labels(bundle)),
    }
    try:
        obj["data"] = {layout.SCRIPT_FILE: bundle.script.decode("utf-8")}
    except UnicodeDecodeError:
        obj["binaryData"] = {layout.SCRIPT_FILE: base64.b64encode(bundle.script).decode()}
    return obj


def config_secret(files: ServiceFiles, options: RenderOptions) -> Dict[str, Any]:
    bundle = files.bundle
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": options.metadata(layout.config_secret_name(bundle.name), labels(bundle)),
        "type": "Opaque",
        "stringData": {layout.CONFIG_FILE: files.function_config, TOKEN_KEY: files.token},
    }


def user_secret(files: ServiceFiles, options: RenderOptions) -> Optional[Dict[str, Any]]:
    """`environment.secrets` as a Secret the service container loads with `envFrom` (as OSCAR does)."""
    bundle = files.bundle
    if not bundle.config.secrets:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": options.metadata(layout.user_secret_name(bundle.name), labels(bundle)),
        "type": "Opaque",
        "stringData": dict(bundle.config.secrets),
    }
