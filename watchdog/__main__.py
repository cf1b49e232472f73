"""`fwatchdog`: serve the function over HTTP; `fwatchdog install TARGET`: copy the kit into an image.

Only wiring: parse the configuration once (a bad value is one line on stderr
and exit status 2), set up logging, hand over to the embedded gunicorn.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from typing import List, Optional

from fwatchdog.config import ConfigError, WatchdogConfig

USAGE_ERROR = 2


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "install":
        return _install(args.target)
    try:
        config = WatchdogConfig.from_environ(os.environ)
        _check_fprocess(config)
    except ConfigError as err:
        sys.stderr.write(f"fwatchdog: {err}\n")
        return USAGE_ERROR
    logging.basicConfig(
        level=logging.DEBUG if config.write_debug else logging.INFO,
        format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    forkserver = None
    if config.uses_supervisor:
        # Spawned first: the fork server pre-imports the supervisor while this process imports
        # gunicorn and Flask, instead of after (the two take about as long). The arbiter waits
        # for it to be ready before it listens, so health says 200 only when it can answer.
        from fwatchdog.forkclient import ForkServerProcess

        forkserver = ForkServerProcess(config.environ)
        forkserver.spawn()
    # Imported here: gunicorn and Flask are not needed to print a config error.
    from fwatchdog.server import WatchdogServer

    WatchdogServer(config, forkserver).run()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fwatchdog",
        description="Serve the function over HTTP: fork the supervisor (or exec `fprocess`) per request.",
        epilog="Configured by environment variables (the OpenFaaS classic watchdog's): "
        "`python -m fwatchdog.config --markdown` lists them.",
    )
    commands = parser.add_subparsers(dest="command")
    install = commands.add_parser("install", help="copy the watchdog and supervisor kit into TARGET")
    install.add_argument("target", help="directory to install into (e.g. /oscar/bin)")
    return parser


def _check_fprocess(config: WatchdogConfig) -> None:
    if config.uses_supervisor:
        return
    command = config.fprocess[0]
    if shutil.which(command, path=config.environ.get("PATH", os.defpath)) is None:
        raise ConfigError(f"fprocess={' '.join(config.fprocess)!r}: {command!r} is not an executable on PATH")


def _install(target: str) -> int:
    try:
        # Imported lazily: the installer is part of the kit build, absent from some installs.
        from fwatchdog.install import install
    except ImportError as err:
        sys.stderr.write(f"fwatchdog: install is not available in this build ({err})\n")
        return USAGE_ERROR
    result = install(target)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
