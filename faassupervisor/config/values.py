"""Values as people write them in variables, flags and YAML: one parser per kind, shared.

The watchdog's settings (`fwatchdog.config`), the supervisor's flags (`cli`)
and the service config (`config.service`) read booleans and durations the
same way through these; each caller adds the name of what it was reading.
Every parser raises ValueError saying what was expected.
"""

from __future__ import annotations

import re

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool:
    """`true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, any case."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds from `30` (plain seconds, as classic) or a Go duration (`30s`, `1m30s`, `500ms`)."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError("expected seconds (30) or a duration (30s, 1m30s, 500ms)")
    return total


def parse_positive_seconds(text: str) -> float:
    """A duration (`parse_duration`) above zero."""
    value = parse_duration(text)
    if value <= 0:
        raise ValueError("expected a positive number of seconds")
    return value
