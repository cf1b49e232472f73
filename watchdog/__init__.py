"""The HTTP front of faas-supervisor: a drop-in for the OpenFaaS classic watchdog.

`fwatchdog` serves the function on gunicorn and runs one invocation per
request: the supervisor forked from a pre-imported fork server, or any other
`fprocess` exec'd as classic does. See the README, "The watchdog".
"""

__all__ = ["WatchdogConfig", "create_app"]


def create_app(config, runtime=None):
    """The Flask app for `config` (imported lazily: Flask is not needed to parse the config)."""
    from fwatchdog.app import create_app as factory

    return factory(config, runtime)


def __getattr__(name):
    # Lazy, so that `python -m fwatchdog.config` does not find its module already imported.
    if name == "WatchdogConfig":
        from fwatchdog.config import WatchdogConfig

        return WatchdogConfig
    raise AttributeError(name)
