"""Multi-document YAML for `kubectl apply -f -`, with scripts and configs as readable literal blocks."""

from __future__ import annotations

from typing import Any, Iterable


def dump_all(objects: Iterable[Any]) -> str:
    import yaml  # deferred: only the control plane's commands print YAML

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data) -> bool:
            return True  # a person reads the output: shared values written out, no &id001 / *id001

    def represent_str(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return yaml.dump_all(
        list(objects), Dumper=Dumper, sort_keys=False, default_flow_style=False, explicit_start=True,
        allow_unicode=True, width=120,
    )
