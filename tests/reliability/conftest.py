"""Fixtures of the reliability suite: the sandbox and the real `fwatchdog` of the main suite."""

from tests.watchdog_server import watchdog  # noqa: F401  (fixture)
