"""Build the kit: one PyInstaller onedir bundle that is `fwatchdog`, `supervisor` and `faas-supervisor`.

Runs in docker/kit/Dockerfile's build stage, in a venv holding PyInstaller and
the installed project. It writes DEST/oscar/bin: the bundle, and inside it the
C library the bundle runs on, so DEST can be copied into a `FROM scratch` image
and the same directory runs in any service image, whatever its C library.

Why one bundle with symbolic links rather than three executables: each
PyInstaller executable embeds its own copy of the compressed Python modules;
one executable (launcher.py) that dispatches on the name it was started as
keeps one copy.

Why the bundle carries its own glibc and loader: PyInstaller leaves glibc out
on purpose, so a bundle built on Debian 12 needs glibc 2.36 in the image and
does not start at all where there is none (musl, static busybox). Here glibc's
dynamic loader and libraries (the ones `ldd` finds outside the bundle) go into
`_internal/`, and the executable's ELF interpreter is set (patchelf) to that
loader by absolute path, KIT_DIR/_internal/ld-linux-*.so.*, with an RPATH of
`$ORIGIN/_internal`. The kernel then starts our loader, which loads only our
libraries: no environment variable is needed to start it, so none can leak into
the user's script, which the image's own loader runs with the image's own
libraries. The price: the kit runs only at KIT_DIR (the ELF interpreter cannot
be a relative path), which is where OSCAR and our control plane mount it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

DISTRIBUTION = "faas-supervisor"
EXECUTABLE = "fwatchdog"  # the real executable; the other commands are links to it
KIT_DIR = "/oscar/bin"  # where the kit runs: its ELF interpreter is an absolute path under it
HERE = Path(__file__).resolve().parent

# Loaded by dotted name at run time, so PyInstaller's import analysis cannot see them.
HIDDEN_IMPORTS = (
    "gunicorn.glogging",
    "gunicorn.workers.sync",
    "gunicorn.workers.gthread",
)
# Whole packages whose modules are found through tables or entry points (storage providers, commands).
COLLECT_SUBMODULES = ("faassupervisor", "fwatchdog")
# Never used by a server process; keeps the bundle small.
EXCLUDES = ("tkinter", "unittest", "pydoc", "doctest", "lib2to3", "ensurepip", "idlelib", "pytest", "IPython")
# botocore ships request models for every AWS service (tens of MiB); the s3 provider needs these.
BOTOCORE_SERVICES = ("s3", "sts", "sso", "sso-oidc")
# OSCAR runs `alpine: true` services' supervisor from <volume>/alpine/supervisor (its Service.GetSupervisorPath,
# grycap/oscar pkg/types/service.go); one kit serves every C library, so that path is one more name for it.
OSCAR_ALIASES = {"alpine/supervisor": "../" + EXECUTABLE}
# Loaded by glibc itself with dlopen (pthread_cancel and pthread_exit unwind through it), so `ldd` never
# lists it; an image without it (scratch, musl) would abort a thread's exit.
GLIBC_DLOPENS = ("libgcc_s.so.1",)


def console_scripts() -> dict:
    """The distribution's console scripts, name -> 'module:function' (read from its installed metadata)."""
    found = importlib.metadata.distribution(DISTRIBUTION).entry_points
    return {ep.name: ep.value for ep in found if ep.group == "console_scripts"}


def commands_module(scripts: dict) -> str:
    """`kit_commands.py`: the launcher's table of command name -> 'module:function'."""
    if EXECUTABLE not in scripts:
        raise SystemExit(f"build_kit: the distribution declares no {EXECUTABLE!r} console script")
    return (
        '"""Written by docker/kit/build_kit.py from the distribution\'s console scripts."""\n\n'
        f"COMMANDS = {scripts!r}\nDEFAULT = {EXECUTABLE!r}\n"
    )


def libmagic_files() -> tuple:
    """(libmagic.so.1, magic.mgc) from the build stage's Debian libmagic1."""
    lib = Path(_ldconfig_path("libmagic.so.1"))
    for candidate in ("/usr/lib/file/magic.mgc", "/usr/share/misc/magic.mgc", "/usr/share/file/magic.mgc"):
        if Path(candidate).is_file():
            return lib, Path(candidate).resolve()
    raise SystemExit("build_kit: libmagic's magic.mgc not found (is libmagic1 installed?)")


def _ldconfig_path(soname: str) -> str:
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if fields and fields[0] == soname and "=>" in line:
            return line.rsplit("=>", 1)[1].strip()
    raise SystemExit(f"build_kit: {soname} not found by ldconfig")


def run_pyinstaller(work: Path) -> Path:
    lib, mgc = libmagic_files()
    args = [
        str(HERE / "launcher.py"),
        "--paths", str(work),  # where kit_commands.py was written
        "--noconfirm", "--clean", "--onedir", "--strip", "--log-level=WARN",
        "--name", EXECUTABLE,
        "--distpath", str(work / "dist"),
        "--workpath", str(work / "build"),
        "--specpath", str(work),
        "--runtime-hook", str(HERE / "rthook_kit.py"),
        "--add-binary", f"{lib}:.",
        "--add-data", f"{mgc}:.",
    ]
    for name in HIDDEN_IMPORTS:
        args += ["--hidden-import", name]
    for name in COLLECT_SUBMODULES:
        args += ["--collect-submodules", name]
    for name in EXCLUDES:
        args += ["--exclude-module", name]
    import PyInstaller.__main__  # the build stage's venv has it; nothing else does

    PyInstaller.__main__.run(args)
    return work / "dist" / EXECUTABLE


def prune_botocore(bundle: Path) -> None:
    data = bundle / "_internal" / "botocore" / "data"
    if not data.is_dir():
        return
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in BOTOCORE_SERVICES:
            shutil.rmtree(entry)


def link_commands(bundle: Path, scripts: dict) -> None:
    links = {name: EXECUTABLE for name in scripts if name != EXECUTABLE}
    links.update(OSCAR_ALIASES)
    for name, target in links.items():
        link = bundle / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def system_libraries(bundle: Path) -> set:
    """Shared libraries the bundle would load from the system: glibc's (its loader included), which
    PyInstaller never bundles, and everything the bootloader executable links (it runs before the
    bundle's own directory is on the search path, so it takes zlib from the system)."""
    bundled = {p.name for p in bundle.rglob("*") if p.is_file()}
    needed = set()
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink() or not _is_elf(path):
            continue
        is_bootloader = path == bundle / EXECUTABLE
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            match = _LDD_LINE.search(line)
            if match and (is_bootloader or Path(match.group(1)).name not in bundled):
                needed.add(match.group(1))
    return needed


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def bundle_c_library(bundle: Path) -> str:
    """Copy the system libraries the bundle needs, glibc's loader among them, into `_internal/`
    (real files, flat, by soname); the loader's file name."""
    internal = bundle / "_internal"
    loader = Path(_patchelf("--print-interpreter", bundle / EXECUTABLE))
    wanted = system_libraries(bundle) | {str(loader)} | {_ldconfig_path(name) for name in GLIBC_DLOPENS}
    for path in sorted(wanted):
        dest = internal / Path(path).name
        if not dest.exists():
            shutil.copy2(os.path.realpath(path), dest)
    return loader.name


def use_bundled_loader(bundle: Path, kit_dir: str, loader: str) -> None:
    """The executable's ELF interpreter becomes the bundle's loader (absolute: the kernel reads no
    relative path there), its RPATH the bundle's libraries: it then starts with no help from the
    image and no environment variable. RPATH, not RUNPATH: it also applies to the libraries it loads."""
    _patchelf("--set-interpreter", f"{kit_dir.rstrip('/')}/_internal/{loader}",
              "--force-rpath", "--set-rpath", "$ORIGIN/_internal", bundle / EXECUTABLE)


def _patchelf(*args) -> str:
    return subprocess.run(["patchelf", *map(str, args)], capture_output=True, text=True, check=True).stdout.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="root of the kit image's file system")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kit-build"))
    parser.add_argument("--kit-dir", default=KIT_DIR,
                        help=f"the absolute path the kit will run at (default {KIT_DIR}, where OSCAR mounts it)")
    args = parser.parse_args(argv)

    scripts = console_scripts()
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "kit_commands.py").write_text(commands_module(scripts))
    bundle = run_pyinstaller(args.work)
    prune_botocore(bundle)
    link_commands(bundle, scripts)
    use_bundled_loader(bundle, args.kit_dir, bundle_c_library(bundle))

    target = args.dest / args.kit_dir.strip("/")
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundle, target, symlinks=True)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"build_kit: {target} holds {size / 2**20:.1f} MiB; commands: {', '.join(sorted(scripts))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
