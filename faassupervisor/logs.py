"""Supervisor log lines through stdlib `logging`: OSCAR's format, on stderr and kept for the response.

SPEC section 2: a response without output files is the supervisor's log lines
at or above `log_level`, then the script's output. `configure` puts two
handlers on the root logger, once per process: one writes to standard error
(never standard output, where a file response goes), one keeps the lines
(bounded) for the response. Both share one formatter, so the warnings of the
SDKs (boto3, minio, urllib3), which log through `logging` too, come out in
our format; their records pass the root logger's own level as the host set
it (WARNING by default). The handlers' levels, set from `log_level` per
invocation, gate both.
"""

import logging
import sys

FORMAT = "%(asctime)s - supervisor - %(levelname)s - %(message)s"  # OSCAR's supervisor format, for log parsers
LEVELS = {"NOTSET": 0, "DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_CAPTURE_LIMIT = 1 << 20  # bytes of log text kept for a response; the rest stays in the container log
QUOTE_LIMIT = 300  # characters of one word of a quoted value (a key) a log line shows
LINE_LIMIT = 16384  # characters of one quoted value (an error message) a log line shows


class LogCapture:
    """Keeps formatted lines (up to 1 MiB) for the logs response."""

    def __init__(self, level: int):
        self.level = level
        self.lines: list[str] = []
        self.messages: list[str] = []  # the bare messages, for callers (and tests) that look for one
        self._size = 0

    def keep(self, line: str, message: str) -> None:
        if self._size >= _CAPTURE_LIMIT:
            return
        self._size += len(line) + 1
        self.lines.append(line)
        self.messages.append(message)

    def text(self) -> bytes:
        return "".join(line + "\n" for line in self.lines).encode("utf-8", "replace")


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


class Formatter(logging.Formatter):
    """OSCAR's line format, with each %-argument that is text (a key, an error) `shorten`ed."""

    def __init__(self):
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_quoted(arg) for arg in args)
        try:
            return super().format(record)
        finally:
            record.args = args


class _Console(logging.Handler):
    """Standard error as it is at each line (the fork server's warm-ups swap it), or a given stream."""

    def __init__(self):
        super().__init__()
        self.stream = None

    def emit(self, record: logging.LogRecord) -> None:
        line = _formatted(self, record)
        if line is None:
            return
        try:
            stream = self.stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not turn a log line into a failed invocation


class _Keeper(logging.Handler):
    """Hands each line to the invocation's `LogCapture`, if it has one, at or above its level."""

    def __init__(self):
        super().__init__()
        self.capture = None

    def emit(self, record: logging.LogRecord) -> None:
        capture = self.capture
        if capture is not None and record.levelno >= capture.level:
            line = _formatted(self, record)
            if line is not None:
                capture.keep(line, record.message)


def _formatted(handler: logging.Handler, record: logging.LogRecord):
    """The line, or None after logging's own report of a bad format string (as any handler does)."""
    try:
        return handler.format(record)
    except Exception:  # noqa: BLE001 - the caller's log call must not fail
        handler.handleError(record)
        return None


_CONSOLE = _Console()
_KEEPER = _Keeper()


def level_number(name: str) -> int:
    """`INFO` → 20; `NOTSET` → 0 (everything); an unknown name counts as INFO, as the config parser says."""
    return LEVELS.get(name, LEVELS["INFO"])


def configure(level: str, stream=None, capture: bool = True):
    """(Re)configure the sinks for one invocation; returns the `LogCapture`, if any."""
    numeric = level_number(level)
    # The container log always shows errors: `log_level: CRITICAL` was OSCAR users' way to keep
    # logs out of responses, which no longer needs it, and must not hide why an invocation failed.
    console_level = min(numeric, LEVELS["ERROR"])
    kept = LogCapture(numeric) if capture else None
    if _KEEPER.formatter is None:  # first call in this process
        formatter = Formatter()
        for handler in (_CONSOLE, _KEEPER):
            handler.setFormatter(formatter)
            logging.getLogger().addHandler(handler)
        # Our records are gated by the handlers' levels, set per invocation below; the logger's
        # level is set once: setting it clears every logger's cache, which a fork-server child
        # would then rebuild (tens of copy-on-write page faults, `make bench BENCH=forkchild`).
        logging.getLogger("faassupervisor").setLevel(1)  # NOTSET (0) would defer to the root's level
        # Records need no thread or process names (the format has none): the logging HOWTO's
        # "Optimization" switches, ~10 fewer page faults per fork-server child.
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if _CONSOLE.stream is not stream:
        _CONSOLE.stream = stream
    if _CONSOLE.level != console_level:
        _CONSOLE.setLevel(console_level)
    _KEEPER.capture = kept
    return kept
