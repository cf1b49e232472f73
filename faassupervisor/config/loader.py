"""Reading config documents: YAML text to a ServiceConfig, whichever form it comes in."""

from __future__ import annotations

from faassupervisor.config import yaml_cache
from faassupervisor.config.service import ServiceConfig
from faassupervisor.errors import BadConfig

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Optional


def parse_yaml(text: bytes, where: str):
    """Parse YAML with the C loader when present (faster start-up), one-line errors otherwise."""
    import yaml  # deferred: tests/test_supervisor_startup.py

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise BadConfig(f"{where}: invalid YAML{at}: {problem}") from None


# Services already parsed in this process, by (text, where, name). The watchdog's fork server
# parses its service once while warming up; every child it forks then finds it here instead of
# reading the on-disk cache again. ServiceConfig is immutable, so sharing it is safe.
_PARSED: dict = {}
_PARSED_LIMIT = 16


def load_service(
    text: bytes, where: str, service_name: Optional[str] = None, cache_dir: Optional[str] = None
) -> ServiceConfig:
    """A service from either a function_config.yaml mapping or a whole FDL file."""
    key = (text, where, service_name)
    service = _PARSED.get(key)
    if service is None:
        service = _parse_service(text, where, service_name, cache_dir)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = service
    return service


def _parse_service(text: bytes, where: str, service_name: Optional[str], cache_dir: Optional[str]) -> ServiceConfig:
    document = yaml_cache.load(text, lambda data: parse_yaml(data, where), cache_dir)
    if document is None:
        return ServiceConfig()
    if isinstance(document, dict) and "functions" in document:
        from faassupervisor.config.fdl import parse_fdl  # only `faas-supervisor run --config FDL` needs it

        return parse_fdl(document, where).select(service_name).config
    if service_name is not None and document.get("name") not in (None, service_name):
        raise BadConfig(f"{where}: describes service {document.get('name')!r}, not {service_name!r}")
    return ServiceConfig.from_mapping(document, where)
