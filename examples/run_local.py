"""`make run` before the watchdog: the two example services through `faas-supervisor run`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def main() -> int:
    storage = HERE.parent / ".run" / "storage"
    env = dict(os.environ, FAAS_SUPERVISOR_STORAGE_DIR=str(storage))
    cow = HERE / "cowsay"
    print("$ faas-supervisor run --script examples/cowsay/script.sh --text-input '{\"message\":\"Hello World\"}'")
    subprocess.run([BIN / "faas-supervisor", "run", "--script", cow / "script.sh", "--config",
                    cow / "function_config.yaml", "--text-input", '{"message":"Hello World"}'], env=env, check=True)
    img = HERE / "image-copy"
    with tempfile.TemporaryDirectory() as tmp:
        picture = Path(tmp) / "picture.gif"
        picture.write_bytes(base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"))
        result = Path(tmp) / "result.gif"
        print("\n$ faas-supervisor run --script examples/image-copy/script.sh --input picture.gif --output result.gif")
        subprocess.run([BIN / "faas-supervisor", "run", "--script", img / "script.sh", "--config",
                        img / "function_config.yaml", "--input", picture, "--output", result], env=env, check=True)
        print(f"result.gif: {result.stat().st_size} bytes, identical: {result.read_bytes() == picture.read_bytes()}")
    print(f"stored outputs under {storage}: {sorted(str(p.relative_to(storage)) for p in storage.rglob('*') if p.is_file())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
