"""What setup.cfg declares is what the code resolves."""

from __future__ import annotations

import configparser
from importlib.metadata import entry_points
from pathlib import Path

from faassupervisor.storage import registry
from faassupervisor.storage.provider import StorageProvider

ROOT = Path(__file__).resolve().parent.parent


def _declared():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = parser["options.entry_points"][registry.GROUP].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines)


def test_builtin_table_mirrors_setup_cfg():
    assert registry.BUILTIN == _declared()


def test_installed_entry_points_resolve_to_providers():
    found = {ep.name: ep for ep in entry_points(group=registry.GROUP)}
    assert set(_declared()) <= set(found)
    for name in _declared():
        cls = found[name].load()
        assert issubclass(cls, StorageProvider) and cls.type_name == name
        assert registry.provider_class(name) is cls


def test_console_scripts_declared():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    scripts = parser["options.entry_points"]["console_scripts"]
    assert "supervisor = faassupervisor.__main__:supervisor_command" in scripts
    assert "faas-supervisor = faassupervisor.__main__:main" in scripts


def test_readme_documents_every_variable():
    from faassupervisor.config.settings import VARIABLES

    readme = (ROOT / "README.md").read_text()
    for name, _doc in VARIABLES:
        assert f"| `{name}` |" in readme, name


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make run" in head and "make test" in head
