"""`make run`: serve one example service with fwatchdog on 127.0.0.1:8080, local storage, nothing else needed.

    make run                      # examples/cowsay: JSON in, text out
    make run EXAMPLE=image-copy   # any file in (base64, multipart, raw), the same file out, a copy stored
    make run TOKEN=secret         # /run and /job then require "Authorization: Bearer secret"

Outputs the example's config sends to the `local` provider land in
`.run/storage/`; each invocation's temporary files under `.run/tmp/`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    example = os.environ.get("EXAMPLE") or "cowsay"
    config_dir = HERE / example
    if not (config_dir / "script.sh").is_file():
        names = sorted(p.name for p in HERE.iterdir() if (p / "script.sh").is_file())
        sys.stderr.write(f"examples/serve.py: no example {example!r} (there are: {', '.join(names)})\n")
        return 2
    run_dir = ROOT / ".run"
    for sub in ("tmp", "storage"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    host = os.environ.get("HOST") or "127.0.0.1"
    port = os.environ.get("PORT") or "8080"
    token = os.environ.get("TOKEN") or ""
    env = dict(os.environ)
    env.update(
        FAAS_SUPERVISOR_CONFIG_DIR=str(config_dir),
        FAAS_SUPERVISOR_STORAGE_DIR=str(run_dir / "storage"),
        TMPDIR=str(run_dir / "tmp"),
        listen_address=host,
        port=port,
        OSCAR_SERVICE_TOKEN=token,
        healthcheck_interval="0",  # Ctrl-C / SIGTERM: exit as soon as nothing is in flight
    )
    url = f"http://{host}:{port}"
    auth = f" -H 'Authorization: Bearer {token}'" if token else ""
    print(f"serving examples/{example} on {url} (outputs to the local provider land in .run/storage)")
    print("try:")
    if example == "cowsay":
        print(f"  curl{auth} -d '{{\"message\": \"Hello World\"}}' {url}/run/{example}")
    else:
        print(f"  base64 picture.png | curl{auth} -d @- {url}/run/{example} | base64 -d > result.png")
        print(f"  curl{auth} -F 'data=@picture.png;type=image/png' {url}/run/{example} | base64 -d > result.png")
        print(f"  curl{auth} -H 'Accept: application/octet-stream' --data-binary @picture.png "
              f"-H 'Content-Type: application/octet-stream' {url}/run/{example} > result.png")
    print(f"  curl {url}/_/health ; curl {url}/metrics")
    print("stop with Ctrl-C", flush=True)
    fwatchdog = str(Path(sys.executable).parent / "fwatchdog")
    os.execve(fwatchdog, [fwatchdog], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
