"""The service images the kit must start in, whatever their C library, built here (no registry has them).

Each stands for images OSCAR users run, and each has `/bin/sh` and the
`shout` tool (upper-cases stdin) but no Python:

- `busybox`: `scratch` + Debian's static busybox: no C library at all;
- `musl`: that + Debian's musl loader and libc, and a musl-linked `shout`
  (Alpine's situation: musl only, no glibc);
- `bullseye`: Debian 11, glibc 2.31 (the level of Ubuntu 20.04), its base
  made with debootstrap by `build_bullseye.sh`;
- `bookworm`: Debian 12, glibc 2.36, the image the kit is built on (the
  injection tests' own `shout` image).

Used by the tests (`test_images_libc.py`) and `bench/bench_images.py`; takes
any callable that runs the engine's command line (`engine(*args)`), so both
can pass their own. Idempotent: the engine's layer cache makes a rebuild
about a second, and the bullseye base is built once per machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Dict

HERE = Path(__file__).resolve().parent
BULLSEYE_BASE = "localhost/debian-base:bullseye"
BUILD_BULLSEYE = HERE / "build_bullseye.sh"

# name -> what it stands for (the docs' and the bench's wording)
IMAGES: Dict[str, str] = {
    "busybox": "scratch + static busybox (no C library)",
    "musl": "scratch + musl + busybox (Alpine's case)",
    "bullseye": "Debian 11, glibc 2.31 (Ubuntu 20.04's level)",
    "bookworm": "Debian 12, glibc 2.36 (the kit's build)",
}


def image_ref(name: str, tag: str) -> str:
    """The local reference of the test image `name` under `tag` (one tag per checkout)."""
    return f"faas-supervisor-test-{'shout' if name == 'bookworm' else name}:{tag}"


def build(engine: Callable, name: str, tag: str) -> str:
    """Build the test image `name` (a key of IMAGES) and return its reference."""
    ref = image_ref(name, tag)
    common = ["build", "-q", "-t", ref]
    if name in ("busybox", "musl"):
        engine(*common, "-f", HERE / "libc" / "Containerfile.scratch", "--target", name, HERE)
    elif name == "bullseye":
        ensure_bullseye_base()
        engine(*common, "-f", HERE / "libc" / "Containerfile.bullseye", HERE)
    elif name == "bookworm":
        engine(*common, HERE / "shout")
    else:
        raise ValueError(f"no test image {name!r}: expected one of {', '.join(IMAGES)}")
    return ref


def ensure_bullseye_base() -> None:
    """Run build_bullseye.sh (debootstrap, root only; returns at once when the image exists)."""
    proc = subprocess.run(["bash", str(BUILD_BULLSEYE)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_BULLSEYE.name} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
