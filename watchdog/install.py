"""`fwatchdog install TARGET`: copy this self-contained runtime (the kit) into a volume.

The control plane's init container runs the kit image, which has no shell and
no `cp`, so the bundle copies itself: the directory holding the running
executable (the PyInstaller onedir bundle: `fwatchdog`, its `supervisor` and
`faas-supervisor` links and `_internal/`) goes to TARGET, file modes kept, so
the service container can run `/oscar/bin/fwatchdog` from that volume.

Idempotent: running it again over an existing copy (a restarted init
container, a reused PVC) replaces every file atomically (a temporary name,
then `os.replace`), so a process already running from the old copy keeps its
inode and never sees half a file.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from faassupervisor.errors import ExitStatus

log = logging.getLogger(__name__)


def main(argv: Sequence[str]) -> int:
    """`fwatchdog install TARGET` (argv without the word `install`): logs to stderr, returns the status."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: fwatchdog install TARGET_DIR\n")
        return int(ExitStatus.BAD_INPUT)
    return install(argv[0])


def bundle_dir() -> Optional[Path]:
    """The directory of the running self-contained executable; None outside a frozen bundle."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(sys.executable).resolve().parent


def install(target: str, source: Optional[Path] = None) -> int:
    """Copy the bundle (or `source`) into `target`; an exit status, and one line on stderr saying what happened."""
    if not logging.getLogger().handlers:
        # Run as a command (`fwatchdog install`) nothing has configured logging yet: the init
        # container's log should still say what was copied, or why not.
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="fwatchdog: %(message)s")
    source = source if source is not None else bundle_dir()
    if source is None:
        log.error("install: only the self-contained kit (the kit image's /oscar/bin/fwatchdog) can install itself")
        return int(ExitStatus.BAD_INPUT)
    dest = Path(target)
    try:
        if dest.exists() and dest.resolve() == source.resolve():
            log.info("install: %s already is the bundle, nothing to copy", dest)
            return int(ExitStatus.SUCCESS)
        files, size = _copy_tree(source, dest)
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        log.error("install: cannot copy %s to %s: %s%s", source, dest, err.strerror or err, where)
        return int(ExitStatus.SCRIPT_FAILED)
    log.info("install: copied %d files (%.1f MiB) from %s to %s", files, size / 2**20, source, dest)
    return int(ExitStatus.SUCCESS)


def _copy_tree(source: Path, dest: Path) -> tuple:
    """Mirror `source` into `dest` (files, symlinks, directories); (files copied, bytes copied)."""
    files = size = 0
    dest.mkdir(parents=True, exist_ok=True)
    for root, dirs, names in os.walk(source):
        here = Path(root)
        there = dest / here.relative_to(source)
        for name in dirs:
            path = here / name
            if path.is_symlink():  # os.walk lists links to directories as directories
                names.append(name)
            else:
                (there / name).mkdir(exist_ok=True)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        for name in names:
            src, dst = here / name, there / name
            tmp = there / f".{name}.installing"
            _remove(tmp)  # a leftover of an interrupted run, maybe a symlink: never write through it
            if src.is_symlink():
                os.symlink(os.readlink(src), tmp)
            else:
                shutil.copy2(src, tmp)  # copy2 keeps the mode (executables stay executable)
                size += src.stat().st_size
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)  # a directory where a file now goes: os.replace cannot overwrite it
            os.replace(tmp, dst)
            files += 1
    for root, dirs, _names in os.walk(source, topdown=False):
        for name in dirs:
            src = Path(root) / name
            if not src.is_symlink():
                shutil.copystat(src, dest / src.relative_to(source))
    shutil.copystat(source, dest)
    return files, size


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
