"""The service model: one OSCAR service, as `function_config.yaml` or an FDL entry describes it.

Parsed once, into immutable records, by `ServiceConfig.from_mapping`. Every type
error names the field (`output[1].path`, `storage_providers.minio.default`),
so a bad config fails at start with one line. Fields the supervisor does not
use (image, cpu, expose, ...) are still typed here, because the control plane
renders Kubernetes objects from this same model instead of parsing the FDL a
second time.

The records are `@record` classes (immutable named tuples built without
`typing`), not dataclasses: importing `dataclasses` and generating a dozen
frozen classes costs about 25 ms, and `typing` a few more; every supervisor
start pays for both (measured by `make bench`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from faassupervisor.config import values
from faassupervisor.errors import BadConfig
from faassupervisor.records import Record, record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Any, Dict, Optional, Tuple

# Shared read-only default for mapping fields (the records are immutable).
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Python's level names, as OSCAR's checkValues accepts them (grycap/oscar pkg/handlers/create.go).
LOG_LEVELS = ("NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}


@record
class ProviderRef:
    """A `TYPE.ID` storage provider reference; `TYPE` alone means `TYPE.default`."""

    type: str
    id: str = "default"

    @classmethod
    def parse(cls, text: Any, field: str) -> "ProviderRef":
        if not isinstance(text, str) or not text.strip():
            raise BadConfig(f"{field}: expected a provider reference like 'minio.default', got {text!r}")
        kind, _, ident = text.strip().partition(".")
        if not kind:
            raise BadConfig(f"{field}: expected a provider reference like 'minio.default', got {text!r}")
        return cls(kind, ident or "default")

    def __str__(self) -> str:
        return f"{self.type}.{self.id}"


@record
class StoragePath(Record):
    """One `input` or `output` entry: where objects come from or go to."""

    provider: ProviderRef
    path: str  # "bucket/folder" (folder may be empty)
    prefix: Tuple[str, ...] = ()
    suffix: Tuple[str, ...] = ()

    @property
    def bucket(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def folder(self) -> str:
        parts = self.path.split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 else ""

    def matches(self, name: str) -> bool:
        """Whether a file (its path relative to the output dir) passes the prefix/suffix filters.

        Both filters look at that relative path, as faas-supervisor's `upload_output` does:
        prefix `result-` selects `result-a.png`, not `nested/result-b.png`.
        """
        if self.prefix and not any(name.startswith(p) for p in self.prefix):
            return False
        if self.suffix and not any(name.endswith(s) for s in self.suffix):
            return False
        return True

    @classmethod
    def from_mapping(cls, data: Any, field: str) -> "StoragePath":
        data = _mapping(data, field)
        path = data.get("path")
        if not isinstance(path, str) or not path.strip("/"):
            raise BadConfig(f"{field}.path: expected 'bucket/folder', got {path!r}")
        return cls(
            provider=ProviderRef.parse(data.get("storage_provider", "minio.default"), f"{field}.storage_provider"),
            path=path.strip().strip("/"),
            prefix=_str_tuple(data.get("prefix"), f"{field}.prefix"),
            suffix=_str_tuple(data.get("suffix"), f"{field}.suffix"),
        )


@record
class ScaleSettings:
    """`synchronous` (Knative) or `expose` (HPA) replica bounds."""

    min_scale: int = 0
    max_scale: int = 0


@record
class ExposeSettings:
    """OSCAR's `expose` section: a long-running server reached at /system/services/<name>/exposed/.

    `api_port` 0 means the service is not exposed (OSCAR writes the section
    with zero values into every function_config.yaml). Since OSCAR 4.1 the
    ports are lists (pkg/types/service.go: `APIPort []int`, `NodePort []int32`),
    which its manager writes into the function_config.yaml of every pod of the
    service; the first is the one this model keeps (the one the probes use),
    the control plane reads them all (`controlplane.oscar_fields.parse_ports`).
    Range and consistency checks (min_scale <= max_scale, ...) belong to the
    control plane.
    """

    api_port: int = 0
    min_scale: int = 1
    max_scale: int = 10
    cpu_threshold: int = 80
    rewrite_target: bool = False
    node_port: int = 0
    set_auth: bool = False
    default_command: bool = False
    health_path: Optional[str] = None

    @classmethod
    def from_mapping(cls, data: Any, field: str = "expose") -> "ExposeSettings":
        data = _mapping(data, field)
        api_port = _first_port(data.get("api_port"), f"{field}.api_port")
        old_port = _first_port(data.get("port"), f"{field}.port")  # the older spelling
        if api_port and old_port and api_port != old_port:
            raise BadConfig(f"{field}.api_port: {api_port} contradicts {field}.port: {old_port}; keep one")
        node_key = "nodePort" if "nodePort" in data else "node_port"  # OSCAR's JSON name, or ours
        return cls(
            api_port=api_port or old_port,
            min_scale=_int(data.get("min_scale", 1), f"{field}.min_scale"),
            max_scale=_int(data.get("max_scale", 10), f"{field}.max_scale"),
            cpu_threshold=_int(data.get("cpu_threshold", 80), f"{field}.cpu_threshold"),
            rewrite_target=parse_bool(data.get("rewrite_target", False), f"{field}.rewrite_target"),
            node_port=_first_port(data.get(node_key), f"{field}.{node_key}"),
            set_auth=parse_bool(data.get("set_auth", False), f"{field}.set_auth"),
            default_command=parse_bool(data.get("default_command", False), f"{field}.default_command"),
            health_path=_opt_str(data.get("health_path"), f"{field}.health_path"),
        )

    @property
    def exposed(self) -> bool:
        return self.api_port != 0


@record
class ServiceConfig(Record):
    """One service, everything the supervisor and the control plane need of it."""

    name: str = "service"
    log_level: str = "INFO"
    file_stage_in: bool = False
    input: Tuple[StoragePath, ...] = ()
    output: Tuple[StoragePath, ...] = ()
    # type -> id -> the provider's own section; each provider validates its section.
    storage_providers: Mapping[str, Mapping[str, Mapping[str, Any]]] = EMPTY
    environment: Mapping[str, str] = EMPTY
    secrets: Mapping[str, str] = EMPTY
    script: Optional[str] = None  # the FDL's script path (the control plane reads it)
    image: Optional[str] = None
    memory: Optional[str] = None
    cpu: Optional[str] = None
    enable_gpu: bool = False
    image_pull_secrets: Tuple[str, ...] = ()
    labels: Mapping[str, str] = EMPTY
    annotations: Mapping[str, str] = EMPTY
    synchronous: ScaleSettings = ScaleSettings()
    token: Optional[str] = None
    expose: Optional[ExposeSettings] = None  # only the control plane reads it
    # OSCAR's `isolation_level: USER`: events come from per-user buckets `<input bucket>-<uid>`,
    # listed (by OSCAR's create.go) in `bucket_list`; outputs go back to the event's bucket.
    isolation_level: str = "SERVICE"
    bucket_list: Tuple[str, ...] = ()
    raw: Mapping[str, Any] = EMPTY
    # One-line notes on values taken with a fallback (an unknown log_level), logged once the
    # invocation's logs are set up: parsing happens before, and its result may come from a cache.
    warnings: Tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Any, where: str = "function_config.yaml") -> "ServiceConfig":
        """Build from the mapping OSCAR writes to function_config.yaml (or one FDL service)."""
        data = _mapping(data, where)
        env_section = _mapping(data.get("environment") or {}, "environment")
        variables = env_section.get("Variables", env_section.get("variables")) or {}
        synchronous = _mapping(data.get("synchronous") or {}, "synchronous")
        log_level, level_warning = parse_log_level(data.get("log_level", "INFO"), "log_level")
        config = cls(
            name=_str(data.get("name", "service"), "name"),
            log_level=log_level,
            file_stage_in=parse_bool(data.get("file_stage_in", False), "file_stage_in"),
            input=tuple(
                StoragePath.from_mapping(item, f"input[{i}]") for i, item in enumerate(_list(data.get("input"), "input"))
            ),
            output=tuple(
                StoragePath.from_mapping(item, f"output[{i}]")
                for i, item in enumerate(_list(data.get("output"), "output"))
            ),
            storage_providers=_providers(data.get("storage_providers"), "storage_providers"),
            environment=_str_map(variables, "environment.Variables"),
            secrets=_str_map(env_section.get("secrets") or {}, "environment.secrets"),
            script=_opt_str(data.get("script"), "script"),
            image=_opt_str(data.get("image"), "image"),
            memory=_opt_str(data.get("memory"), "memory"),
            cpu=_opt_str(data.get("cpu"), "cpu"),
            enable_gpu=parse_bool(data.get("enable_gpu", False), "enable_gpu"),
            image_pull_secrets=_str_tuple(data.get("image_pull_secrets"), "image_pull_secrets"),
            labels=_str_map(data.get("labels") or {}, "labels", _QUALIFIED_KEY),
            annotations=_str_map(data.get("annotations") or {}, "annotations", _QUALIFIED_KEY),
            synchronous=ScaleSettings(
                min_scale=_int(synchronous.get("min_scale", 0), "synchronous.min_scale"),
                max_scale=_int(synchronous.get("max_scale", 0), "synchronous.max_scale"),
            ),
            token=_opt_str(data.get("token"), "token"),
            expose=ExposeSettings.from_mapping(data["expose"]) if data.get("expose") is not None else None,
            isolation_level=_str(data.get("isolation_level") or "SERVICE", "isolation_level").strip().upper(),
            bucket_list=_str_tuple(data.get("bucket_list"), "bucket_list"),
            raw=dict(data),
            warnings=(level_warning,) if level_warning else (),
        )
        config.check_references()
        return config

    def with_overrides(self, **changes: Any) -> "ServiceConfig":
        """A copy with some fields replaced (environment overrides, FDL-level providers)."""
        return self._replace(**changes)

    def check_references(self) -> None:
        """Every input/output must name a provider that is defined (or built in with defaults)."""
        for kind, entries in (("input", self.input), ("output", self.output)):
            for i, entry in enumerate(entries):
                ref = entry.provider
                if ref.id in self.storage_providers.get(ref.type, {}):
                    continue
                if (ref.type, ref.id) in _IMPLICIT_PROVIDERS:
                    continue
                raise BadConfig(
                    f"{kind}[{i}].storage_provider: '{ref}' names no provider defined in storage_providers"
                )

    def is_user_bucket(self, bucket: str) -> bool:
        """Whether `bucket` is one of the per-user buckets of an `isolation_level: USER` service."""
        return self.isolation_level == "USER" and bucket in self.bucket_list

    def provider_section(self, ref: ProviderRef) -> Mapping[str, Any]:
        """The config section of one provider (empty for an implicit one such as local.default)."""
        return self.storage_providers.get(ref.type, {}).get(ref.id, {})


# Providers that exist without a section: `local.default` stores under the
# documented default root, and `minio.default` may take its credentials from
# OSCAR's mounted secret files.
_IMPLICIT_PROVIDERS = {("local", "default"), ("minio", "default")}


def parse_log_level(value: Any, field: str) -> Tuple[str, Optional[str]]:
    """(level name, warning or None): an unknown level is INFO with a warning, never a refusal.

    OSCAR's checkValues turns an unknown `log_level` into INFO (create.go), and its FaaS
    Supervisor hands the name to `logging`; refusing it would make every request a 400.
    """
    text = str(value).strip().upper()
    text = _LOG_LEVEL_ALIASES.get(text, text)
    if text in LOG_LEVELS:
        return text, None
    return "INFO", f"{field}: unknown level {value!r}, using INFO (expected one of {', '.join(LOG_LEVELS)})"


def parse_bool(value: Any, field: str) -> bool:
    """A YAML boolean, or its text as a variable gives it (`values.parse_bool`); empty is false."""
    if isinstance(value, bool):
        return value
    text = str(value)
    if not text.strip():
        return False
    try:
        return values.parse_bool(text)
    except ValueError as err:
        raise BadConfig(f"{field}: {err}, got {value!r}") from None


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadConfig(f"{field}: expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadConfig(f"{field}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadConfig(f"{field}: expected a string, got {type(value).__name__}")
    return str(value)


def _opt_str(value: Any, field: str) -> Optional[str]:
    return None if value is None else _str(value, field)


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise BadConfig(f"{field}: expected an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadConfig(f"{field}: expected an integer, got {value!r}") from None


def _first_port(value: Any, field: str) -> int:
    """A port as OSCAR 3.x writes it (a number), or the first of a 4.1+ list; 0 when absent."""
    if isinstance(value, list):
        return _int(value[0] or 0, f"{field}[0]") if value else 0
    return _int(value or 0, field)


def _str_tuple(value: Any, field: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(_str(v, f"{field}[{i}]") for i, v in enumerate(_list(value, field)))


_VARIABLE_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
# Kubernetes label/annotation keys: an optional DNS-subdomain prefix and a '/' (`autoscaling.knative.dev/min-scale`).
_QUALIFIED_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


def _str_map(value: Any, field: str, key_pattern: str = _VARIABLE_KEY) -> Dict[str, str]:
    value = _mapping(value, field)
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(key_pattern, key):
            raise BadConfig(f"{field}: {key!r} is not a valid name")
        out[key] = "" if item is None else (str(item).lower() if isinstance(item, bool) else _str(item, f"{field}.{key}"))
    return out


def _providers(value: Any, field: str) -> Dict[str, Dict[str, Dict[str, Any]]]:
    if value is None:
        return {}
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for kind, ids in _mapping(value, field).items():
        out[str(kind)] = {}
        for ident, section in _mapping(ids or {}, f"{field}.{kind}").items():
            out[str(kind)][str(ident)] = dict(_mapping(section or {}, f"{field}.{kind}.{ident}"))
    return out
