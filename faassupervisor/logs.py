"""Supervisor logging: always to standard error; also kept for the response when it has no file.

SPEC section 2: a response without output files is the supervisor's log lines
at or above `log_level`, then the script's output. Keeping the lines in a
handler (bounded) lets the response include them without ever writing a log
line to standard output, where a file response goes.
"""

from __future__ import annotations

import logging
import sys
from typing import List, Optional, TextIO

LOGGER_NAME = "faassupervisor"
FORMAT = "%(asctime)s - supervisor - %(levelname)s - %(message)s"
_CAPTURE_LIMIT = 1 << 20  # bytes of log text kept for a response; the rest stays in the container log


class LogCapture(logging.Handler):
    """Keeps formatted records (up to 1 MiB) for the logs response."""

    def __init__(self, level: int):
        super().__init__(level)
        self.lines: List[str] = []
        self._size = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self._size >= _CAPTURE_LIMIT:
            return
        line = self.format(record)
        self._size += len(line) + 1
        self.lines.append(line)

    def text(self) -> bytes:
        return "".join(line + "\n" for line in self.lines).encode("utf-8", "replace")


def configure(level: str, stream: Optional[TextIO] = None, capture: bool = True) -> Optional[LogCapture]:
    """(Re)configure the package logger for one invocation; returns the capture handler, if any."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    numeric = getattr(logging, level, logging.INFO)
    # The container log always shows errors: `log_level: CRITICAL` was OSCAR users' way to keep
    # logs out of responses, which no longer needs it, and must not hide why an invocation failed.
    console_level = min(numeric, logging.ERROR)
    logger.setLevel(min(numeric, console_level))
    logger.propagate = False
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(formatter)
    logger.addHandler(console)
    if not capture:
        return None
    kept = LogCapture(numeric)
    kept.setFormatter(formatter)
    logger.addHandler(kept)
    return kept
