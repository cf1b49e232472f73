"""OSCAR service fields only the control plane reads, parsed from the FDL's raw service mapping.

The supervisor's model (`ServiceConfig`) types what the runtime needs; the
fields here change only the rendered pod: 4.x's port lists, `mount`, `volume`,
`interlink_node_name`, `ephemeral_storage_request`, `enable_sgx`,
`probe_mode`. Field names and meanings follow OSCAR's `pkg/types/service.go`
(`Service`, `Expose`, `ServiceVolumeConfig`); each error is one `BadConfig`
line naming the field.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from faassupervisor.config.service import ProviderRef, parse_bool
from faassupervisor.errors import BadConfig

_MOUNT_OPTIONS = re.compile(r"[-a-zA-Z0-9_.:=,/ ]+")  # resources/mount.go validMountOptsRe


@dataclasses.dataclass(frozen=True)
class Ports:
    """`expose.api_port` and `expose.nodePort`, each a number (3.x) or a list (4.x)."""

    api: Tuple[int, ...]
    node: Tuple[int, ...]  # empty, or one per api port; 0 lets Kubernetes pick

    @property
    def first_node_port(self) -> int:
        return self.node[0] if self.node else 0

    @property
    def has_ingress(self) -> bool:
        """OSCAR's rule (resources/expose.go CreateExpose): an Ingress unless the first port has a fixed nodePort."""
        return self.first_node_port == 0

    @property
    def is_node_port(self) -> bool:
        return bool(self.node)


@dataclasses.dataclass(frozen=True)
class Mount:
    """`mount`: a bucket or folder of a storage provider mounted by rclone under /mnt (resources/mount.go)."""

    provider: ProviderRef
    path: str
    options: str = ""


@dataclasses.dataclass(frozen=True)
class Volume:
    """`volume`: a PersistentVolumeClaim mounted at `mount_path`, created when `size` is given."""

    claim: str
    mount_path: str
    size: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class OscarFields:
    ports: Ports
    probe_mode: str = "legacy"
    mount: Optional[Mount] = None
    volume: Optional[Volume] = None
    interlink_node: Optional[str] = None
    ephemeral_storage: Optional[str] = None
    enable_sgx: bool = False

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], name: str) -> "OscarFields":
        expose = raw.get("expose") or {}
        return cls(
            ports=parse_ports(expose) if isinstance(expose, Mapping) else Ports((), ()),
            probe_mode=_probe_mode(expose.get("probe_mode") if isinstance(expose, Mapping) else None),
            mount=_mount(raw.get("mount")),
            volume=_volume(raw.get("volume"), name),
            interlink_node=_optional_text(raw.get("interlink_node_name"), "interlink_node_name"),
            ephemeral_storage=_optional_text(raw.get("ephemeral_storage_request"), "ephemeral_storage_request"),
            enable_sgx=parse_bool(raw.get("enable_sgx", False), "enable_sgx"),
        )


def parse_ports(expose: Mapping[str, Any]) -> Ports:
    api = _port_list(expose.get("api_port"), "expose.api_port") or _port_list(expose.get("port"), "expose.port")
    node_key = "nodePort" if "nodePort" in expose else "node_port"
    node = _port_list(expose.get(node_key), f"expose.{node_key}", zero_ok=True)
    if node and len(node) != len(api):
        # OSCAR refuses the same (resources/expose.go CreateExpose).
        raise BadConfig(f"expose.{node_key}: {len(node)} ports for {len(api)} api_port; give one per api_port")
    return Ports(api, node)


def _port_list(value: Any, field: str, zero_ok: bool = False) -> Tuple[int, ...]:
    if value is None or value == 0 or value == []:
        return ()
    items: List[Any] = value if isinstance(value, list) else [value]
    ports = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]" if isinstance(value, list) else field
        if isinstance(item, bool):
            raise BadConfig(f"{where}: expected a port number, got {item!r}")
        try:
            port = int(str(item).strip())
        except ValueError:
            raise BadConfig(f"{where}: expected a port number, got {item!r}") from None
        if not (0 < port < 65536 or (zero_ok and port == 0)):
            raise BadConfig(f"{where}: {port} is not a port number (1-65535)")
        ports.append(port)
    return tuple(ports)


def _probe_mode(value: Any) -> str:
    text = str(value or "legacy").strip().lower()
    if text not in ("legacy", "direct"):
        raise BadConfig(f"expose.probe_mode: expected legacy or direct, got {value!r}")
    return text


def _mount(value: Any) -> Optional[Mount]:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise BadConfig(f"mount: expected a mapping, got {type(value).__name__}")
    provider = value.get("storage_provider") or value.get("provider")
    if not provider:
        return None  # OSCAR writes an empty `mount` section into every function_config.yaml
    ref = ProviderRef.parse(provider, "mount.storage_provider")
    if ref.type not in ("minio", "s3", "webdav"):
        raise BadConfig(f"mount.storage_provider: {ref} cannot be mounted (minio, s3 or webdav, as OSCAR)")
    path = value.get("path")
    if not isinstance(path, str) or not path.strip("/"):
        raise BadConfig(f"mount.path: expected 'bucket/folder', got {path!r}")
    options = _optional_text(value.get("options"), "mount.options") or ""
    if options and not _MOUNT_OPTIONS.fullmatch(options):
        # OSCAR drops such options with a log line (ValidateMountOpts); a render refuses them.
        raise BadConfig(f"mount.options: {options!r} has characters rclone flags never need (allowed: letters,"
                        " digits, space and -_.:=,/)")
    return Mount(ref, path.strip(), options)


def _volume(value: Any, name: str) -> Optional[Volume]:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise BadConfig(f"volume: expected a mapping, got {type(value).__name__}")
    mount_path = value.get("mount_path")
    if not isinstance(mount_path, str) or not mount_path.startswith("/"):
        raise BadConfig(f"volume.mount_path: expected an absolute path, got {mount_path!r}")
    claim = _optional_text(value.get("name"), "volume.name") or name
    return Volume(claim, mount_path, _optional_text(value.get("size"), "volume.size"))


def _optional_text(value: Any, field: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list, bool)):
        raise BadConfig(f"{field}: expected a string, got {value!r}")
    return str(value).strip() or None


def provider_section(raw: Mapping[str, Any], ref: ProviderRef) -> Dict[str, Any]:
    """The FDL's section of one provider (after the FDL-level providers were merged in), or {}."""
    providers = raw.get("storage_providers") or {}
    return dict((providers.get(ref.type) or {}).get(ref.id) or {})
