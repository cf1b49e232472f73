"""The HTTP front of faas-supervisor: a drop-in for the OpenFaaS classic watchdog.

`fwatchdog` serves the function on gunicorn and runs one invocation per
request: the supervisor forked from a pre-imported fork server, or any other
`fprocess` exec'd as classic does. See docs/watchdog.md.
"""

from watchdog.config import WatchdogConfig

__all__ = ["WatchdogConfig", "create_app"]


def create_app(config: WatchdogConfig, runtime=None):
    """The Flask app for `config` (imported lazily: Flask is not needed to parse the config)."""
    from watchdog.app import create_app as factory

    return factory(config, runtime)
