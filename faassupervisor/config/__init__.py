"""Configuration: the service model, FDL files and runtime settings, each parsed once."""

from faassupervisor.config.fdl import Fdl, FdlService, parse_fdl
from faassupervisor.config.service import ProviderRef, ScaleSettings, ServiceConfig, StoragePath
from faassupervisor.config.settings import RuntimeSettings, ScriptSource

__all__ = [
    "Fdl",
    "FdlService",
    "ProviderRef",
    "RuntimeSettings",
    "ScaleSettings",
    "ScriptSource",
    "ServiceConfig",
    "StoragePath",
    "parse_fdl",
]
