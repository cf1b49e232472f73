"""Supervisor log lines: always to standard error; also kept for the response when it has no file.

SPEC section 2: a response without output files is the supervisor's log lines
at or above `log_level`, then the script's output. Keeping the lines in memory
(bounded) lets the response include them without ever writing a log line to
standard output, where a file response goes.

Why not the standard `logging` package: importing it (with `re`, `traceback`,
`threading`, `string`) is about a sixth of the supervisor's whole start-up,
and start-up is paid by every request. The supervisor needs only levelled
lines in one format to two sinks, which is what this module does; libraries
(boto3, minio, urllib3) keep logging through `logging`, whose unconfigured
default shows their warnings on standard error as before.
"""

import _thread
import sys
import time

FORMAT = "{asctime} - supervisor - {level} - {message}"  # OSCAR's supervisor format, kept for log parsers
LEVELS = {"NOTSET": 0, "DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_NAMES = {number: name for name, number in LEVELS.items()}
_CAPTURE_LIMIT = 1 << 20  # bytes of log text kept for a response; the rest stays in the container log
QUOTE_LIMIT = 300  # characters of one word of a quoted value (a key) a log line shows
LINE_LIMIT = 16384  # characters of one quoted value (an error message) a log line shows


class LogCapture:
    """Keeps formatted lines (up to 1 MiB) for the logs response."""

    def __init__(self, level: int):
        self.level = level
        self.lines = []
        self.messages = []  # the bare messages, for callers (and tests) that look for one
        self._size = 0

    def keep(self, line: str, message: str) -> None:
        if self._size >= _CAPTURE_LIMIT:
            return
        self._size += len(line) + 1
        self.lines.append(line)
        self.messages.append(message)

    def text(self) -> bytes:
        return "".join(line + "\n" for line in self.lines).encode("utf-8", "replace")


class _Sinks:
    """Where lines go, set by `configure` once per invocation (the watchdog's children reconfigure)."""

    console = None
    console_level = LEVELS["INFO"]
    capture = None
    lock = _thread.allocate_lock()  # uploads log from their worker threads


class Logger:
    """The `logging.Logger` calls the supervisor uses: `debug`..`error` with %-style arguments."""

    def __init__(self, name: str):
        self.name = name

    def debug(self, message: str, *args, exc_info: bool = False) -> None:
        _emit(10, message, args, exc_info)

    def info(self, message: str, *args, exc_info: bool = False) -> None:
        _emit(20, message, args, exc_info)

    def warning(self, message: str, *args, exc_info: bool = False) -> None:
        _emit(30, message, args, exc_info)

    def error(self, message: str, *args, exc_info: bool = False) -> None:
        _emit(40, message, args, exc_info)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` with each run of over `limit` characters without a space (a 60 KB object key, in an
    error or alone) cut to its beginning and end with how much was left out, and the whole cut
    to `LINE_LIMIT`: a quoted value must not fill the log. A long message of many short words
    (the list of failed uploads) is left whole."""
    if len(text) <= limit:
        return text
    text = " ".join(_cut(word, limit) for word in text.split(" "))
    return _cut(text, LINE_LIMIT)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}...[{len(text) - 2 * keep} characters]...{text[-keep:]}"


def _quoted(arg):
    if isinstance(arg, str):
        return shorten(arg)
    if isinstance(arg, BaseException):
        return shorten(str(arg))
    return arg


def get_logger(name: str) -> Logger:
    return Logger(name)


def level_number(name: str) -> int:
    """`INFO` → 20; `NOTSET` → 0 (everything); an unknown name counts as INFO, as the config parser says."""
    return LEVELS.get(name, LEVELS["INFO"])


def configure(level: str, stream=None, capture: bool = True):
    """(Re)configure the sinks for one invocation; returns the `LogCapture`, if any."""
    numeric = level_number(level)
    # The container log always shows errors: `log_level: CRITICAL` was OSCAR users' way to keep
    # logs out of responses, which no longer needs it, and must not hide why an invocation failed.
    kept = LogCapture(numeric) if capture else None
    with _Sinks.lock:
        _Sinks.console = stream
        _Sinks.console_level = min(numeric, LEVELS["ERROR"])
        _Sinks.capture = kept
    return kept


def _emit(level: int, message: str, args: tuple, exc_info: bool) -> None:
    if level < _Sinks.console_level:  # the capture's level is never below the console's
        return
    if args:
        message = message % tuple(_quoted(arg) for arg in args)
    if exc_info:
        import traceback  # only for the rare debug line that carries one

        message = message + "\n" + traceback.format_exc().rstrip("\n")
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + ",%03d" % (now % 1 * 1000)
    line = FORMAT.format(asctime=stamp, level=_NAMES[level], message=message)
    with _Sinks.lock:
        if level >= _Sinks.console_level:
            stream = _Sinks.console or sys.stderr
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stderr must not turn a log line into a failed invocation
        capture = _Sinks.capture
        if capture is not None and level >= capture.level:
            capture.keep(line, message)
