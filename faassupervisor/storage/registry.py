"""Finding provider classes: the `faassupervisor.storage_providers` entry-point group.

A third party adds a provider with a package declaring an entry point, not a
patch. Lookups happen only when a config references a provider type, and only
the referenced class is imported, so an invocation without storage never pays
for scanning installed distributions, and one without MinIO never imports its SDK.
"""

from __future__ import annotations

import importlib
import sys

from faassupervisor.config.service import ProviderRef, ServiceConfig
from faassupervisor.errors import BadConfig
from faassupervisor.storage.provider import ProviderContext, StorageProvider

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Dict, Mapping, Type

GROUP = "faassupervisor.storage_providers"

# The entry points this distribution declares in setup.cfg (a test checks they
# agree). Resolving these without importlib.metadata keeps start-up cheap:
# scanning every installed distribution's metadata costs tens of milliseconds.
BUILTIN = {
    "local": "faassupervisor.storage.providers.local:LocalProvider",
    "minio": "faassupervisor.storage.providers.minio:MinioProvider",
    "s3": "faassupervisor.storage.providers.s3:S3Provider",
    "webdav": "faassupervisor.storage.providers.webdav:WebdavProvider",
    "onedata": "faassupervisor.storage.providers.onedata:OnedataProvider",
}


def provider_class(type_name: str) -> Type[StorageProvider]:
    target = BUILTIN.get(type_name) or _entry_point_target(type_name)
    if target is None:
        raise BadConfig(f"storage_providers.{type_name}: unknown provider type (no '{GROUP}' entry point)")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _entry_point_target(type_name: str):
    from importlib.metadata import entry_points  # deferred: tests/test_supervisor_startup.py

    if sys.version_info >= (3, 10):
        found = entry_points(group=GROUP)
    else:  # Python 3.9: entry_points() takes no arguments
        found = entry_points().get(GROUP, ())
    for ep in found:
        if ep.name == type_name:
            return ep.value
    return None


class ProviderSet:
    """The providers one service uses, built (and validated) on first reference."""

    def __init__(self, service: ServiceConfig, context: ProviderContext):
        self._service = service
        self._context = context
        self._built: Dict[ProviderRef, StorageProvider] = {}

    def validate(self) -> None:
        """Build every provider referenced by input/output now, so bad credentials fail at start."""
        for entry in self._service.input + self._service.output:
            self.get(entry.provider)

    def is_defined(self, ref: ProviderRef) -> bool:
        """Whether `ref` names a provider this service can use (a section, or what it needs mounted)."""
        if ref.id in self._service.storage_providers.get(ref.type, {}):
            return True
        try:
            return provider_class(ref.type).defined_without_section(ref.id, self._context)
        except BadConfig:  # an unknown type: not defined
            return False

    def get(self, ref: ProviderRef) -> StorageProvider:
        if ref not in self._built:
            section: Mapping = self._service.provider_section(ref)
            self._built[ref] = provider_class(ref.type).from_config(ref.id, section, self._context)
        return self._built[ref]
