"""PyPI's `watchdog` (file-system events; an extra of Werkzeug and hypothesis) installed beside us.

Our watchdog's code lives in the folder `watchdog/` but is imported as `fwatchdog`, so the two
distributions never own the same top-level name: installing theirs after ours, or ours after
theirs, leaves `fwatchdog` working, and uninstalling theirs deletes none of our files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THEIRS = f"watchdog=={metadata.version('watchdog')}"  # what the test extra installed (from pip's cache)


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args, "-q",
                           "--disable-pip-version-check"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _run(venv: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], capture_output=True, text=True,
                          timeout=120, cwd=venv)  # not the checkout: its folders must not be importable


@pytest.fixture(scope="module")
def our_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return next(out.glob("*.whl"))


def _venv(path: Path) -> Path:
    """A venv that takes our dependencies from the test venv (a .pth), so only the two packages install."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(path / "bin" / "python"), "-c", code], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path


@pytest.mark.parametrize("order", [("ours", "theirs"), ("theirs", "ours")])
def test_pypi_watchdog_installed_beside_us(order, our_wheel, tmp_path):
    venv = _venv(tmp_path / "venv")
    python = venv / "bin" / "python"
    for which in order:
        _pip(python, "install", "--no-deps", str(our_wheel) if which == "ours" else THEIRS)

    help_text = _run(venv, "fwatchdog", "--help")
    assert help_text.returncode == 0 and "usage: fwatchdog" in help_text.stdout, help_text.stderr
    both = _run(venv, "python", "-c", "import watchdog.observers, fwatchdog.config; print(fwatchdog.config.__file__)")
    assert both.returncode == 0, both.stderr
    assert both.stdout.strip().startswith(str(venv)), both.stdout  # ours, as installed

    _pip(python, "uninstall", "-y", "watchdog")
    ours = Path(both.stdout.strip()).parent
    assert (ours / "__main__.py").is_file() and (ours / "forkserver.py").is_file()
    assert _run(venv, "fwatchdog", "--help").returncode == 0
    assert os.path.isdir(ours)
