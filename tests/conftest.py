"""Shared fixtures: an isolated environment per test and a way to run the real `supervisor`."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional

import pytest

from faassupervisor import workdir
from fwatchdog.forkserver import WARM_UP_PREFIX

VENV_BIN = Path(sys.executable).parent
SUPERVISOR = str(VENV_BIN / "supervisor")
FAAS_SUPERVISOR = str(VENV_BIN / "faas-supervisor")
SCENARIOS = Path(__file__).parent / "scenarios"

# Variables of ours that must never leak from the developer's shell into a test.
_OURS = ("FUNCTION_CONFIG", "SCRIPT", "EVENT", "LOG_LEVEL", "FILE_STAGE_IN", "FAAS_SUPERVISOR_CONFIG_DIR",
         "FAAS_SUPERVISOR_STORAGE_DIR", "FAAS_SUPERVISOR_SECRETS_DIR", "FAAS_SUPERVISOR_CACHE_DIR", "OSCAR_SERVICE_TOKEN")


@dataclasses.dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def decoded(self) -> bytes:
        return base64.b64decode(self.stdout, validate=True)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A clean environment: private TMPDIR (checked empty afterwards), config and storage dirs."""
    for name in _OURS:
        monkeypatch.delenv(name, raising=False)
    box = tmp_path / "sandbox"
    for sub in ("tmp", "config", "storage", "secrets"):
        (box / sub).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in _OURS and not k.startswith("Http_")}
    env.update(
        TMPDIR=str(box / "tmp"),
        FAAS_SUPERVISOR_CONFIG_DIR=str(box / "config"),
        FAAS_SUPERVISOR_STORAGE_DIR=str(box / "storage"),
        FAAS_SUPERVISOR_SECRETS_DIR=str(box / "secrets"),
        FAAS_SUPERVISOR_CACHE_DIR=str(box / "cache"),
    )
    return Sandbox(box, env)


class Sandbox:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.env = env
        self.tmp = root / "tmp"
        self.config = root / "config"
        self.storage = root / "storage"

    def write_script(self, text: str) -> Path:
        path = self.config / "script.sh"
        path.write_text(text)
        return path

    def write_config(self, text: str) -> Path:
        path = self.config / "function_config.yaml"
        path.write_text(text)
        return path

    def supervisor(self, body: bytes = b"", env: Optional[Mapping[str, str]] = None, args=(),
                   timeout: float = 60) -> Run:
        full = dict(self.env, **(env or {}))
        proc = subprocess.run([SUPERVISOR, *args], input=body, env=full, capture_output=True, timeout=timeout)
        return Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))

    def faas_supervisor(self, *args, env: Optional[Mapping[str, str]] = None, timeout: float = 60) -> Run:
        full = dict(self.env, **(env or {}))
        proc = subprocess.run([FAAS_SUPERVISOR, *map(str, args)], env=full, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))

    def leftovers(self) -> list:
        """Whatever an invocation left in TMPDIR (must be nothing). A walk that skips what goes
        away meanwhile: a running fork server's warm-ups make and remove directories there."""
        found = []
        for folder, dirs, files in os.walk(self.tmp):
            found += [os.path.relpath(os.path.join(folder, name), self.tmp) for name in dirs + files]
        return sorted(found)

    def left_by_invocations(self) -> list:
        """`leftovers` but what a running watchdog keeps between invocations: its lock file, and
        its recycled private dirs with the supervisor's input/ and output/ in them, empty."""

        def kept(relative: str) -> bool:
            parts = relative.split("/")
            if relative == ".lock" or (len(parts) == 1 and parts[0].startswith("fwatchdog-")):
                return True
            if parts[0].startswith(WARM_UP_PREFIX):  # the fork server's, until its warm-ups are done
                return True
            return (len(parts) == 2 and parts[0].startswith("fwatchdog-") and parts[1] in workdir.KEPT_DIRS
                    and (self.tmp / relative).is_dir() and not (self.tmp / relative).is_symlink())

        return [p for p in self.leftovers() if not kept(p)]


def pytest_terminal_summary(terminalreporter) -> None:
    """Say in the last lines how many image tests were skipped and why, so a green run that
    built no image is never mistaken for one that did."""
    skipped = [report for report in terminalreporter.stats.get("skipped", ())
               if "images" in getattr(report, "keywords", {})]
    if not skipped:
        return
    reasons = sorted({str(report.longrepr[2]).removeprefix("Skipped: ") for report in skipped
                      if isinstance(report.longrepr, tuple)})
    terminalreporter.write_line(f"image tests: {len(skipped)} skipped, because {'; '.join(reasons)}")
