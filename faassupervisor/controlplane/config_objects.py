"""The objects that carry a service's files: the script (ConfigMap) and its config (Secret).

function_config.yaml goes in a Secret, not in a ConfigMap as OSCAR does: it
carries the `storage_providers` credentials. The Secret also holds the service
token, which pods read through `secretKeyRef` rather than from a plain value in
the workload's spec.

`minio.default` is written as OSCAR writes it (pkg/handlers/create.go): the
endpoint, `access_key: hidden`, `secret_key: hidden`. Its keys reach the pod as
a Secret mounted at /var/run/secrets/providers/minio.default (pkg/handlers/job.go),
which the runtime reads: OSCAR's per-user Secret, one named by `--minio-secret`,
or `<name>-minio` rendered from the keys when the FDL carries them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any, Dict, Optional, Tuple

from faassupervisor.controlplane import layout
from faassupervisor.config.service import ProviderRef
from faassupervisor.controlplane.bundle import ServiceBundle
from faassupervisor.controlplane.oscar_fields import provider_section
from faassupervisor.controlplane.options import RenderOptions

TOKEN_KEY = "token"
# Keys of the config Secret holding a non-default mount provider's credentials (resources/mount.go
# passes them as plain values; here the rclone sidecar reads them by secretKeyRef).
MOUNT_KEYS = {"access_key": "mount-access-key", "secret_key": "mount-secret-key", "password": "mount-password"}


@dataclasses.dataclass(frozen=True)
class ServiceFiles:
    """What one render decides for a service: its token and the text of its files."""

    bundle: ServiceBundle
    token: str
    function_config: str
    # The Secret mounted at /var/run/secrets/providers/minio.default, None when nothing uses minio.default.
    minio_secret: Optional[str] = None
    # (accessKey, secretKey) from the FDL, rendered as the `<name>-minio` Secret.
    minio_keys: Optional[Tuple[str, str]] = None

    @classmethod
    def build(cls, bundle: ServiceBundle, options: RenderOptions, minio_user: Optional[str] = None) -> "ServiceFiles":
        """`minio_user`: the Secret of the user an event names (render-job), instead of the owner's."""
        import yaml  # deferred: the supervisor's start-up never renders

        # OSCAR's tokens are 64 hex characters; a fresh one per render unless the FDL fixes it.
        token = bundle.config.token or options.random_bytes(32).hex()
        raw = dict(bundle.config.raw)
        declared = provider_section(raw, ProviderRef("minio"))
        access, secret_key = declared.get("access_key"), declared.get("secret_key")
        minio_keys: Optional[Tuple[str, str]] = None
        if all(k and str(k) != layout.HIDDEN for k in (access, secret_key)):
            minio_keys = (str(access), str(secret_key))
        providers = {kind: dict(ids) for kind, ids in (raw.get("storage_providers") or {}).items()}
        providers.setdefault("minio", {})["default"] = {
            "endpoint": declared.get("endpoint") or options.minio_endpoint,
            "verify": declared.get("verify", True),
            "region": declared.get("region") or "us-east-1",
            "access_key": layout.HIDDEN,
            "secret_key": layout.HIDDEN,
        }
        raw["storage_providers"] = providers
        text = yaml.safe_dump(raw, sort_keys=False, default_flow_style=False, allow_unicode=True)
        secret = None
        if uses_default_minio(bundle):
            if options.minio_secret:
                secret = options.minio_secret
            elif minio_keys:
                secret = layout.minio_secret_name(bundle.name)
            else:
                secret = minio_user or layout.OSCAR_MINIO_SECRET
        return cls(bundle, token, text, secret, minio_keys if secret == layout.minio_secret_name(bundle.name) else None)

    @property
    def digest(self) -> str:
        """Changes whenever the script, the config or the token does: annotated on pod templates to roll them."""
        hasher = hashlib.sha256()
        for part in (self.bundle.script, self.function_config.encode(), self.token.encode()):
            hasher.update(hashlib.sha256(part).digest())
        return hasher.hexdigest()[:16]


def uses_default_minio(bundle: ServiceBundle) -> bool:
    """Whether an input, an output, the mount or a provider section names minio.default."""
    config = bundle.config
    refs = [entry.provider for entry in config.input + config.output]
    if bundle.fields.mount is not None:
        refs.append(bundle.fields.mount.provider)
    return ProviderRef("minio") in refs or "default" in config.storage_providers.get("minio", {})


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
    data = {layout.CONFIG_FILE: files.function_config, TOKEN_KEY: files.token}
    mount = bundle.fields.mount
    if mount is not None and mount.provider != ProviderRef("minio"):
        section = provider_section(bundle.config.raw, mount.provider)
        data.update({key: str(section[field]) for field, key in MOUNT_KEYS.items() if section.get(field)})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": options.metadata(layout.config_secret_name(bundle.name), labels(bundle)),
        "type": "Opaque",
        "stringData": data,
    }


def minio_secret(files: ServiceFiles, options: RenderOptions) -> Optional[Dict[str, Any]]:
    """The FDL's minio.default keys, as the Secret mounted where OSCAR mounts the user's."""
    if files.minio_keys is None or files.minio_secret is None:  # build() sets both or neither
        return None
    access, secret = files.minio_keys
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": options.metadata(files.minio_secret, labels(files.bundle)),
        "type": "Opaque",
        "stringData": {layout.MINIO_ACCESS_KEY: access, layout.MINIO_SECRET_KEY: secret},
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
