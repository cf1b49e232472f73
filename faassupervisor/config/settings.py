"""Runtime settings: everything the supervisor takes from its environment, parsed once.

`RuntimeSettings.from_environ(env)` is the only place that reads variables;
the rest of the code receives this object. Nothing is written back to the
environment: the user script's environment is built as a dict elsewhere.

Paths are plain strings here and on the rest of an invocation's way (body,
script, response). pathlib's objects are slow to build, and a forked
supervisor copies the pages of every one it touches: without them, a fork
server's child faults ~30 pages fewer and the watchdog served 7.7 % more
requests per second (CPU per request 5.52 -> 5.11 ms, 8 A/B pairs). pathlib
stays where there is real path work and no request pays for it by default:
the CLI's arguments, output listings, storage transfers.
"""

from __future__ import annotations

import base64
import binascii
import os

from faassupervisor.config import yaml_cache
from faassupervisor.config.loader import load_service
from faassupervisor.config.service import ServiceConfig, parse_bool, parse_log_level
from faassupervisor.errors import BadConfig
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from os import PathLike
    from typing import Mapping, Optional, Union

DEFAULT_CONFIG_DIR = "/oscar/config"
DEFAULT_STORAGE_DIR = "/tmp/faas-supervisor/storage"
DEFAULT_SECRETS_DIR = "/var/run/secrets/providers"

# (variable, meaning) — rendered into the README's configuration table.
VARIABLES = (
    ("FUNCTION_CONFIG", "base64 of the service's YAML; wins over `$FAAS_SUPERVISOR_CONFIG_DIR/function_config.yaml`"),
    ("SCRIPT", "base64 of the user script; wins over `$FAAS_SUPERVISOR_CONFIG_DIR/script.sh`"),
    ("FAAS_SUPERVISOR_CONFIG_DIR", f"where `function_config.yaml` and `script.sh` are read (default `{DEFAULT_CONFIG_DIR}`)"),
    ("FAAS_SUPERVISOR_STORAGE_DIR", f"root of the `local` storage provider (default `{DEFAULT_STORAGE_DIR}`)"),
    ("FAAS_SUPERVISOR_SECRETS_DIR", f"where provider secrets are mounted (default `{DEFAULT_SECRETS_DIR}`)"),
    ("FAAS_SUPERVISOR_CACHE_DIR", "where parsed configs are cached between starts (default `/tmp/faas-supervisor-cache-<uid>`)"),
    ("LOG_LEVEL", "overrides the service's `log_level`"),
    ("FILE_STAGE_IN", "overrides the service's `file_stage_in`"),
    ("EVENT", "the event to process when standard input is empty or a terminal (Kubernetes Jobs)"),
    ("TMPDIR", "parent of each invocation's private temporary directories"),
)


@record
class ScriptSource:
    """The user script: a file to run in place, or text to write into the invocation's temp dir."""

    path: Optional[str] = None  # absolute
    content: Optional[bytes] = None

    @property
    def description(self) -> str:
        return self.path or "$SCRIPT"


@record
class RuntimeSettings:
    service: ServiceConfig
    script: Optional[ScriptSource]
    config_dir: str = DEFAULT_CONFIG_DIR
    storage_dir: str = DEFAULT_STORAGE_DIR
    secrets_dir: str = DEFAULT_SECRETS_DIR
    temp_root: Optional[str] = None
    event: Optional[bytes] = None  # the EVENT variable, used when stdin has nothing

    @classmethod
    def from_environ(
        cls,
        env: Mapping[str, str],
        config_path: Optional[Union[str, PathLike]] = None,
        script_path: Optional[Union[str, PathLike]] = None,
        service_name: Optional[str] = None,
    ) -> "RuntimeSettings":
        """Parse the settings; explicit paths (from `faas-supervisor run`) win over the environment."""
        config_dir = env.get("FAAS_SUPERVISOR_CONFIG_DIR") or DEFAULT_CONFIG_DIR
        service = _load_service(env, config_dir, config_path, service_name)
        if env.get("LOG_LEVEL"):
            level, warning = parse_log_level(env["LOG_LEVEL"], "LOG_LEVEL")
            service = service.with_overrides(
                log_level=level, warnings=service.warnings + ((warning,) if warning else ())
            )
        if env.get("FILE_STAGE_IN"):
            service = service.with_overrides(file_stage_in=parse_bool(env["FILE_STAGE_IN"], "FILE_STAGE_IN"))
        event = env.get("EVENT")
        return cls(
            service=service,
            script=_script_source(env, config_dir, script_path),
            config_dir=config_dir,
            storage_dir=env.get("FAAS_SUPERVISOR_STORAGE_DIR") or DEFAULT_STORAGE_DIR,
            secrets_dir=env.get("FAAS_SUPERVISOR_SECRETS_DIR") or DEFAULT_SECRETS_DIR,
            temp_root=env.get("TMPDIR") or None,
            event=event.encode() if event else None,
        )


def _load_service(env, config_dir: str, config_path, service_name: Optional[str]) -> ServiceConfig:
    if config_path is not None:
        return load_service(_read(config_path, "--config"), os.fspath(config_path), service_name)
    cache_dir = env.get("FAAS_SUPERVISOR_CACHE_DIR") or yaml_cache.default_dir()
    if env.get("FUNCTION_CONFIG"):
        text = _b64(env["FUNCTION_CONFIG"], "FUNCTION_CONFIG")
        return load_service(text, "FUNCTION_CONFIG", service_name, cache_dir)
    path = os.path.join(config_dir, "function_config.yaml")
    if os.path.isfile(path):
        return load_service(_read(path, path), path, service_name, cache_dir)
    # No config at all is a plain local service: no storage, INFO logs.
    return ServiceConfig()


def _script_source(env, config_dir: str, script_path) -> Optional[ScriptSource]:
    if script_path is not None:
        if not os.path.isfile(script_path):
            raise BadConfig(f"--script: {os.fspath(script_path)} is not a file")
        return ScriptSource(path=os.path.realpath(script_path))
    if env.get("SCRIPT"):
        return ScriptSource(content=_b64(env["SCRIPT"], "SCRIPT"))
    path = os.path.join(config_dir, "script.sh")
    if os.path.isfile(path):
        # Absolute (it runs in another directory), not resolved: resolving costs a system call
        # per path component in every request.
        return ScriptSource(path=os.path.abspath(path))
    return None


def _read(path, field: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise BadConfig(f"{field}: cannot read {os.fspath(path)}: {err.strerror}") from None


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadConfig(f"{field}: not valid base64") from None


def missing_script_message(settings: RuntimeSettings) -> str:
    return (
        f"no user script: set SCRIPT (base64) or provide {os.path.join(settings.config_dir, 'script.sh')}"
        " (FAAS_SUPERVISOR_CONFIG_DIR moves that directory)"
    )


__all__ = ["RuntimeSettings", "ScriptSource", "VARIABLES"]
