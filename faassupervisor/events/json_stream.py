"""An incremental, strict JSON validator that never holds the document in memory.

A JSON request body is handed to the user script byte for byte, so we only
need to know whether it *is* JSON (RFC 8259, as strict as `json.loads` without
NaN/Infinity), not its value. Bodies can be hundreds of MiB (a base64 image
inside a JSON string), so this is a push validator: `feed()` takes chunks of
any size and keeps only a container stack (one byte per nesting level) and at
most a few bytes of an unfinished token.

Two engines share the work, both running at C speed on long runs:
- an exact state machine over bytes: string bodies are checked with
  `bytes.find`/`bytes.translate`, whitespace, escapes and numbers with
  compiled regexes; it decides every error message and offset;
- a fast path for token-dense text (arrays of records, numbers): the stdlib's
  C scanner (`json.decoder`) parses whole values inside a bounded window
  (`_WINDOW` bytes, so the objects it builds stay small), and its results are
  thrown away. Whenever it cannot finish a value in the window, or dislikes
  something, the state machine takes over from the last complete value and
  gives the precise verdict.

Known, deliberate differences from `json.loads`: input must be UTF-8 (no
UTF-16/32 detection, no BOM, no encoded surrogates), nesting is limited to
`MAX_DEPTH` levels (`json.loads` gives up near 1000 with RecursionError), and
integers longer than Python's int-to-str limit are accepted (they are JSON).
"""

from __future__ import annotations

import codecs
import json.decoder
import re

from faassupervisor.errors import BadInput

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Tuple

# Nesting limit: the stack costs one byte per level, so this bounds memory;
# no real document comes near it (json.loads itself stops near 1000).
MAX_DEPTH = 100_000

# Parser states: what the next significant byte may be.
_VALUE = 0  # a value (document start, after ':' or after ',' in an array)
_VALUE_OR_CLOSE = 1  # a value or ']' (just after '[')
_KEY_OR_CLOSE = 2  # a key string or '}' (just after '{')
_KEY = 3  # a key string (after ',' in an object)
_COLON = 4  # ':' after a key
_AFTER_VALUE = 5  # ',' or the closing bracket; only whitespace at top level
_IN_KEY = 6  # inside a key string
_IN_STRING = 7  # inside a value string

_EXPECTED = {
    _VALUE: "a value",
    _VALUE_OR_CLOSE: "a value or ']'",
    _KEY_OR_CLOSE: "a string key or '}'",
    _KEY: "a string key",
    _COLON: "':' after an object key",
}
_VALUE_STATES = (_VALUE, _VALUE_OR_CLOSE)
_KEY_STATES = (_KEY, _KEY_OR_CLOSE)

_ARRAY, _OBJECT = ord("["), ord("{")
_CLOSE_ARRAY, _CLOSE_OBJECT = ord("]"), ord("}")
_QUOTE, _COMMA, _COLON_BYTE = ord('"'), ord(","), ord(":")
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_NUMBER_START = frozenset(b"-0123456789")
_CONTROL = bytes(range(0x20))

# Where these patterns are used they cannot miss (a '*' pattern, or a byte already found), so
# `.match`/`.search` there carry `type: ignore[union-attr]` rather than a None check per call.
_WS = re.compile(rb"[ \t\n\r]*")
_CONTROL_CHAR = re.compile(rb"[\x00-\x1f]")
# Escapes each followed by plain text, in the "unrolled loop" form (one way to
# split any input: no catastrophic backtracking). Matched in windows because
# `re` keeps backtracking state for every repetition of a group.
_ESCAPED_RUN = re.compile(rb'(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*')
_ESCAPE_PREFIX = re.compile(rb"\\(?:u[0-9a-fA-F]{0,3})?")
_NUMBER_LENIENT = re.compile(rb"-?[0-9]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]*)?")
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DIGIT_RUN = re.compile(rb"[0-9]{3,}")

# -- the fast path's tools
_WINDOW = 64 * 1024  # bytes of text handed to the C scanner at once
_FAST_TRIES = 4  # consecutive fast-path failures before it rests for a window
_NEXT_ITEM = re.compile(r"[ \t\n\r]*,[ \t\n\r]*").match
_AFTER_KEY = re.compile(r"[ \t\n\r]*:[ \t\n\r]*").match
_DIGITS_TEXT = frozenset("0123456789")
_NUMBER_TAIL_TEXT = frozenset("0123456789.eE+-")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# Both are public attributes of json.decoder (the C scanner when the accelerator is built) that
# typeshed does not declare.
_scan_value = json.decoder.JSONDecoder(parse_constant=_reject_constant).scan_once  # type: ignore[attr-defined]
_scan_string = json.decoder.scanstring  # type: ignore[attr-defined]
_JSON_BLANKS = " \t\n\r"


def is_whole_document(data: bytes) -> bool:
    """Whether `data` is one whole JSON document, decided by one call of json's C scanner.

    For a small body that arrived in one read, building and running the streaming
    validator costs more than this (and a forked supervisor also pays for every page
    it touches). True only for what `JsonValidator` accepts too: strict UTF-8 (so no
    BOM), no NaN or Infinity. False means "not decided here": the caller then runs the
    validator, which names the exact error, and which also accepts what this refuses
    only for Python's own limits (nesting near 1000 levels, integers beyond its
    int-to-str limit).
    """
    try:
        text = data.decode("utf-8")
        start = len(text) - len(text.lstrip(_JSON_BLANKS))
        _value, end = _scan_value(text, start)  # the C scanner itself: decode() wraps it in Python
    except (StopIteration, ValueError, RecursionError):  # UnicodeDecodeError and NaN included
        return False
    return not text[end:].strip(_JSON_BLANKS)


def _shown(buf: bytes, pos: int) -> str:
    """The byte at `pos` as a reader wants to see it in an error message."""
    if pos >= len(buf):
        return "the end of the body"
    byte = buf[pos]
    if 0x21 <= byte < 0x7F:
        return repr(chr(byte))
    return f"byte 0x{byte:02x}"


class JsonValidator:
    """Push validator: `feed(chunk)` any number of times, then `close()`.

    Raises `BadInput` ("invalid JSON at byte N: ...") at the first byte that
    cannot be part of a JSON document, or at `close()` when it is truncated.
    """

    def __init__(self) -> None:
        self._state = _VALUE
        self._stack = bytearray()  # b"[" or b"{" per open container
        self._fed = 0  # bytes fed so far
        self._carry = b""  # an unfinished number, literal or escape
        self._carry_at = 0  # stream offset of the carry's first byte
        # The buffer being scanned is carry + chunk: offsets of its two parts.
        self._split = 0
        self._carry_base = 0
        self._chunk_base = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._utf8_pending = False
        self._fast_failures = 0
        self._fast_rest_until = 0  # stream offset before which the fast path rests

    # -- public API -------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Validate the next bytes of the document."""
        if not chunk:
            return
        chunk = bytes(chunk)
        bad_utf8 = self._check_utf8(chunk)
        if bad_utf8 is not None:
            # A syntax error before the bad byte is the one to report.
            start = self._fed
            self._scan_chunk(chunk[:max(0, bad_utf8)], final=False)
            raise BadInput(f"invalid JSON at byte {start + bad_utf8}: invalid UTF-8")
        self._scan_chunk(chunk, final=False)

    def close(self) -> None:
        """Declare the end of the document; BadInput when it is incomplete."""
        buf, self._carry = self._carry, b""
        if buf:
            self._split, self._carry_base, self._chunk_base = len(buf), self._carry_at, self._fed
            self._scan(buf, final=True)
        end = self._fed
        if self._state == _AFTER_VALUE and not self._stack:
            try:
                self._utf8.decode(b"", True)
            except UnicodeDecodeError:
                raise BadInput(f"invalid JSON at byte {end}: truncated UTF-8 sequence") from None
            return
        if end == 0:
            raise BadInput("invalid JSON at byte 0: empty document")
        if self._state in (_IN_KEY, _IN_STRING):
            where = "inside a string"
        elif self._state in _EXPECTED:
            where = f"while expecting {_EXPECTED[self._state]}"
        else:
            where = "after a value"
        depth = len(self._stack)
        unclosed = f", {depth} bracket{'s' if depth != 1 else ''} left open" if depth else ""
        raise BadInput(f"invalid JSON at byte {end}: truncated {where}{unclosed}")

    # -- internals ---------------------------------------------------------

    def _check_utf8(self, chunk: bytes):
        """Offset in `chunk` of the first invalid UTF-8 byte (negative when the
        bad sequence began in an earlier chunk), or None."""
        if not self._utf8_pending and chunk.isascii():
            return None
        pending = len(self._utf8.getstate()[0])
        try:
            self._utf8.decode(chunk)
        except UnicodeDecodeError as err:
            return err.start - pending
        self._utf8_pending = bool(self._utf8.getstate()[0])
        return None

    def _scan_chunk(self, chunk: bytes, final: bool) -> None:
        if self._carry:
            buf = self._carry + chunk
            self._carry_base = self._carry_at
        else:
            buf = chunk
            self._carry_base = self._fed
        self._split = len(self._carry)
        self._chunk_base = self._fed
        self._carry = b""
        self._fed += len(chunk)
        self._scan(buf, final)

    def _at(self, pos: int) -> int:
        """The stream offset of `pos` in the buffer being scanned."""
        if pos >= self._split:
            return self._chunk_base + pos - self._split
        return self._carry_base + pos

    def _fail(self, pos: int, what: str) -> BadInput:
        return BadInput(f"invalid JSON at byte {self._at(pos)}: {what}")

    def _hold(self, buf: bytes, pos: int) -> None:
        """Keep buf[pos:] (an unfinished token) for the next chunk."""
        carry = buf[pos:]
        if len(carry) > 1024:
            # Only a number can grow this long; its digit runs can be cut to
            # two digits without changing its validity (offsets reported
            # inside such a monster number may then be approximate).
            carry = _DIGIT_RUN.sub(lambda m: m.group()[:2], carry)
        self._carry = carry
        self._carry_at = self._at(pos)

    def _scan(self, buf: bytes, final: bool) -> None:  # noqa: C901 (one state machine)
        n = len(buf)
        pos = 0
        state = self._state
        stack = self._stack
        ws = _WS.match
        try:
            while pos < n:
                if state == _IN_STRING or state == _IN_KEY:
                    pos, closed = self._string(buf, pos, n, final)
                    if not closed:  # the buffer ends inside the string
                        return
                    state = _COLON if state == _IN_KEY else _AFTER_VALUE
                    continue

                pos = ws(buf, pos).end()  # type: ignore[union-attr]
                if pos >= n:
                    return
                byte = buf[pos]
                # The fast path can nest at most _WINDOW levels deeper than the
                # stack shows: keep it away from the depth limit, so the limit
                # holds exactly whatever the chunking.
                if (self._at(pos) >= self._fast_rest_until and len(stack) < MAX_DEPTH - _WINDOW
                        and (state == _AFTER_VALUE and byte == _COMMA
                             or state in _VALUE_STATES and byte != _CLOSE_ARRAY
                             or state in _KEY_STATES and byte == _QUOTE)):
                    pos, state = self._fast(buf, pos, n, state)
                    pos = ws(buf, pos).end()  # type: ignore[union-attr]
                    if pos >= n:
                        return
                    byte = buf[pos]

                if state == _AFTER_VALUE:
                    if not stack:
                        raise self._fail(pos, f"unexpected {_shown(buf, pos)} after the JSON value")
                    top = stack[-1]
                    if byte == _COMMA:
                        state = _VALUE if top == _ARRAY else _KEY
                        pos += 1
                    elif byte == _CLOSE_ARRAY and top == _ARRAY or byte == _CLOSE_OBJECT and top == _OBJECT:
                        stack.pop()
                        pos += 1
                    else:
                        closer = "']'" if top == _ARRAY else "'}'"
                        raise self._fail(pos, f"expected ',' or {closer}, found {_shown(buf, pos)}")
                elif state == _COLON:
                    if byte != _COLON_BYTE:
                        raise self._fail(pos, f"expected ':' after an object key, found {_shown(buf, pos)}")
                    pos += 1
                    state = _VALUE
                elif state in _KEY_STATES:
                    if byte == _QUOTE:
                        pos += 1
                        state = _IN_KEY
                    elif byte == _CLOSE_OBJECT and state == _KEY_OR_CLOSE:
                        stack.pop()
                        pos += 1
                        state = _AFTER_VALUE
                    else:
                        raise self._fail(pos, f"expected {_EXPECTED[state]}, found {_shown(buf, pos)}")
                elif byte == _CLOSE_ARRAY and state == _VALUE_OR_CLOSE:
                    stack.pop()
                    pos += 1
                    state = _AFTER_VALUE
                elif byte == _OBJECT or byte == _ARRAY:
                    if len(stack) >= MAX_DEPTH:
                        raise self._fail(pos, f"nested deeper than {MAX_DEPTH} levels")
                    stack.append(byte)
                    state = _KEY_OR_CLOSE if byte == _OBJECT else _VALUE_OR_CLOSE
                    pos += 1
                elif byte == _QUOTE:
                    state = _IN_STRING
                    pos += 1
                elif byte in _NUMBER_START:
                    end = _NUMBER_LENIENT.match(buf, pos).end()  # type: ignore[union-attr]
                    if end == n and not final:
                        self._hold(buf, pos)  # the number may go on in the next chunk
                        return
                    m = _NUMBER.match(buf, pos)
                    if m is None or m.end() != end:
                        raise self._fail(pos, f"invalid number {buf[pos:min(end, pos + 24)].decode()!r}")
                    pos = end
                    state = _AFTER_VALUE
                elif byte in _LITERALS:
                    literal = _LITERALS[byte]
                    if buf.startswith(literal, pos):
                        pos += len(literal)
                        state = _AFTER_VALUE
                    elif not final and n - pos < len(literal) and literal.startswith(buf[pos:]):
                        self._hold(buf, pos)
                        return
                    else:
                        raise self._fail(pos, f"invalid literal, expected {literal.decode()!r}")
                else:
                    raise self._fail(pos, f"expected {_EXPECTED[state]}, found {_shown(buf, pos)}")
        finally:
            self._state = state

    def _string(self, buf: bytes, pos: int, n: int, final: bool) -> Tuple[int, bool]:
        """Consume string content from `pos`: (offset after the closing quote,
        True), or (n, False) when the buffer ends inside the string."""
        quote = buf.find(b'"', pos)
        while True:
            if 0 <= quote < pos:
                quote = buf.find(b'"', pos)
            end = quote if quote >= 0 else n
            backslash = buf.find(b"\\", pos, end)
            stop = backslash if backslash >= 0 else end
            if stop > pos:
                plain = buf[pos:stop]
                if len(plain.translate(None, _CONTROL)) != len(plain):
                    bad = _CONTROL_CHAR.search(buf, pos, stop).start()  # type: ignore[union-attr]
                    raise self._fail(bad, f"control character 0x{buf[bad]:02x} inside a string (escape it)")
                pos = stop
            if backslash >= 0:
                after = _ESCAPED_RUN.match(buf, pos, min(n, pos + _WINDOW)).end()  # type: ignore[union-attr]
                if after > pos:
                    pos = after
                    if pos < n and buf[pos] < 0x20:
                        raise self._fail(pos, f"control character 0x{buf[pos]:02x} inside a string (escape it)")
                    continue
                if n - pos < 6 and _ESCAPE_PREFIX.fullmatch(buf, pos):
                    if final:
                        raise self._fail(n, "truncated inside a string escape")
                    self._hold(buf, pos)  # an escape cut by the chunk's end
                    return n, False
                # Shown up to its first wrong byte, so the message is the same however the body is cut.
                escape = buf[pos:_ESCAPE_PREFIX.match(buf, pos).end() + 1]  # type: ignore[union-attr]
                raise self._fail(pos, f"invalid escape {escape.decode('ascii', 'backslashreplace')!r} in a string")
            if quote >= 0:
                return quote + 1, True
            return n, False

    def _fast(self, buf: bytes, pos: int, n: int, state: int) -> Tuple[int, int]:
        """Let the C scanner consume whole values from `pos`; returns the
        (position, state) after the last complete value it accepted, or the
        input unchanged. The state machine re-checks anything not accepted."""
        end = min(n, pos + _WINDOW)
        while end > pos and end < n and buf[end] & 0xC0 == 0x80:
            end -= 1  # never cut a UTF-8 sequence
        window = buf[pos:end]
        try:
            text = window.decode("utf-8")
        except UnicodeDecodeError:  # a sequence cut by the chunk's end
            return pos, state
        size = len(text)
        in_object = bool(self._stack) and self._stack[-1] == _OBJECT
        top_level = not self._stack
        idx = done = 0
        failed = False
        try:
            if state == _AFTER_VALUE:
                m = None if top_level else _NEXT_ITEM(text)
                if m is None:
                    return pos, state
                idx = m.end()
            need_key = state in _KEY_STATES or state == _AFTER_VALUE and in_object
            if not (need_key or in_object or top_level):
                idx, done = self._array_batch(text, idx)
            while True:
                if need_key:
                    if idx >= size or text[idx] != '"':
                        break
                    m = _AFTER_KEY(text, _scan_string(text, idx + 1, True)[1])
                    if m is None:
                        break
                    idx = m.end()
                if idx >= size:
                    break
                idx = _scan_value(text, idx)[1]
                if text[idx - 1] in _DIGITS_TEXT and (idx >= size or text[idx] in _NUMBER_TAIL_TEXT):
                    break  # a number that may go on after the window: the state machine decides
                done = idx
                m = None if top_level else _NEXT_ITEM(text, idx)
                if m is None:
                    break
                idx = m.end()
                need_key = in_object
        except (StopIteration, ValueError, RecursionError):
            failed = True
        if done:
            self._fast_failures = 0
        elif failed:
            self._fast_failures += 1
            if self._fast_failures >= _FAST_TRIES:
                # Not a fit here (huge values, deep nesting): rest past this window.
                self._fast_failures = 0
                self._fast_rest_until = self._at(end)
        if not done:
            return pos, state
        if not window.isascii():
            done = len(text[:done].encode("utf-8"))
        return pos + done, _AFTER_VALUE

    @staticmethod
    def _array_batch(text: str, idx: int) -> Tuple[int, int]:
        """Scalar array elements from `idx` up to the window's last comma, in one C call.

        `[` + elements + `]` parses only if that comma is between elements of
        this array (a comma inside a nested value or a string leaves something
        unclosed), so success proves every element before it. Returns
        (where to go on, end of the last element proved), or (idx, 0).
        """
        first = text[idx:idx + 1]
        if first == '"':  # a comma right after a closing quote is the likely cut
            last = text.rfind('",', idx) + 1
        elif first in ("[", "{", ""):  # containers: their own commas would spoil most tries
            return idx, 0
        else:
            last = text.rfind(",", idx)
        if last - idx < 256:  # not worth a second look
            return idx, 0
        try:
            if _scan_value("[" + text[idx:last] + "]", 0)[1] != last - idx + 2:
                return idx, 0
        except (StopIteration, ValueError, RecursionError):
            return idx, 0
        return _NEXT_ITEM(text, last).end(), last  # type: ignore[union-attr]
