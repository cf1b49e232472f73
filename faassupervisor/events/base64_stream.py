"""An incremental, strict base64 decoder for request bodies of any size.

`oscar-cli`, oscar-python and `base64 file | curl -d @-` send the input file
base64-encoded, often with a misleading Content-Type, so a body that is not
JSON must be *proved* to be base64, not decoded leniently (the original threw
away whatever was not base64 and ran the script on garbage). Accepted:
- the standard (`+/`) or the URL-safe (`-_`) alphabet, one per body;
- line breaks (`\\r`, `\\n`) anywhere, ignored (`base64` wraps at 76 columns);
- blanks (space, tab) before and after the data, never inside it;
- `=` padding only at the very end, and complete; or no padding at all
  (the data then has 4n+2 or 4n+3 characters).
Everything else is `BadInput` naming the byte and its offset.

Each chunk is first decoded by `pybase64` (SIMD) in its validating mode,
after its line breaks are removed (`bytes.replace`, memchr and memcpy): one
pass that both proves the chunk is plain data of the body's alphabet and
decodes it, at several GB/s where `binascii.a2b_base64` does ~300 MB/s. Only
a chunk it refuses (the padding at the end, trailing blanks, the first
alphabet-specific character of the body, or an error) takes the exact path:
one `bytes.translate` proves what is data, `in` checks enforce one alphabet,
and the message names the first byte at fault, the same whatever the
chunking. At most three characters are carried between chunks.
"""

from __future__ import annotations

import binascii
import re

import pybase64

from faassupervisor.errors import BadInput

_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_DATA_AND_BREAKS = _ALNUM + b"+/-_\r\n"
_STANDARD, _URL_SAFE = b"+/", b"-_"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")
# Where these patterns are used they cannot miss (a '*' pattern, or a byte already found), so
# `.match`/`.search` there carry `type: ignore[union-attr]` rather than a None check per call.
_SPECIAL = re.compile(rb"[^A-Za-z0-9+/\-_\r\n]")  # first byte that ends the plain data
_BREAKS = re.compile(rb"[\r\n]*")
_BLANKS = re.compile(rb"[ \t\r\n]*")
_STANDARD_CHAR = re.compile(rb"[+/]")
_URL_SAFE_CHAR = re.compile(rb"[-_]")
_ALPHABET_NAMES = {_STANDARD: "standard ('+/')", _URL_SAFE: "URL-safe ('-_')"}


def _decode(data, altchars) -> bytes:
    """Whole groups of 4 characters, decoded; binascii.Error on anything but the alphabet
    (`validate=True` is also pybase64's fastest mode: the lenient one filters first)."""
    return pybase64.b64decode(data, altchars=altchars, validate=True)


def _shown(byte: int) -> str:
    if 0x21 <= byte < 0x7F:
        return f"{chr(byte)!r}"
    return f"byte 0x{byte:02x}"


class Base64Decoder:
    """Push decoder: `feed(chunk) -> bytes` any number of times, then `close() -> bytes`.

    `offset` is the stream offset of the first byte fed, for error messages.
    """

    def __init__(self, offset: int = 0) -> None:
        self._offset = offset  # stream offset of the next byte fed
        self._alphabet = b""  # _STANDARD or _URL_SAFE once a '+/' or '-_' is seen
        self._alphabet_at = -1  # offset of the byte that chose it
        self._quantum = b""  # up to 3 data characters not decoded yet, in the standard alphabet
        self._started = False  # a data character was seen
        self._padding = 0  # '=' seen so far
        self._blank_at = -1  # offset of the first blank after the data: only blanks may follow

    def feed(self, chunk: bytes) -> bytes:
        """Decode the next bytes of the body; returns the bytes decoded so far."""
        chunk = bytes(chunk)
        base = self._offset
        self._offset += len(chunk)
        if not self._started:
            data = chunk.lstrip(b" \t\r\n")
            if not data:
                return b""
            base += len(chunk) - len(data)
            chunk = data
            self._started = True
        if self._padding or self._blank_at >= 0:
            self._tail(chunk, 0, base)
            return b""
        decoded = self._plain(chunk)
        if decoded is not None:
            return decoded
        if chunk.translate(None, _DATA_AND_BREAKS):
            # Something other than data and line breaks: padding, blanks, or an error.
            stop = _SPECIAL.search(chunk).start()  # type: ignore[union-attr]
            out = self._data(chunk[:stop], base)
            self._tail(chunk, stop, base)
            return out
        return self._data(chunk, base)

    def close(self) -> bytes:
        """End of the body: decode the last group; BadInput when it is incomplete."""
        quantum = self._quantum
        self._quantum = b""
        if self._padding:
            needed = 4 - len(quantum)
            if self._padding != needed:
                raise BadInput(
                    f"invalid base64 at byte {self._offset}: incomplete padding, the last group has "
                    f"{len(quantum)} characters and {self._padding} '=' (needs {needed})"
                )
        elif len(quantum) == 1:
            raise BadInput(
                f"invalid base64 at byte {self._offset}: truncated, one character left over "
                "(base64 has 4n, 4n+2 or 4n+3 characters)"
            )
        if not quantum:
            return b""
        return binascii.a2b_base64(quantum + b"=" * (4 - len(quantum)))

    # -- internals ---------------------------------------------------------

    def _plain(self, chunk: bytes):
        """The fast path: the decoded bytes of a chunk that holds only data of the body's known
        alphabet and line breaks; None (nothing changed) for anything else, which the exact
        path then decodes or diagnoses."""
        if b"=" in chunk:
            return None  # padding: pybase64 would accept it in a whole group, then data after it
        data = chunk
        if b"\r" in data:
            data = data.replace(b"\r", b"")
        if b"\n" in data:
            data = data.replace(b"\n", b"")
        if self._alphabet == _URL_SAFE:
            if b"+" in data or b"/" in data:  # pybase64 would take them as well as '-_'
                return None
            altchars = _URL_SAFE
        elif self._alphabet == _STANDARD:
            altchars = None  # validation refuses '-' and '_'
        elif b"+" in data or b"/" in data:
            return None  # the body's first alphabet-specific character: the exact path records it
        else:
            altchars = None  # (a '-' or '_' fails validation, and takes the exact path)
        if self._quantum:  # kept in the standard alphabet
            data = (self._quantum.translate(_STANDARD_TO_URL) if altchars else self._quantum) + data
        whole = len(data) & ~3
        try:
            decoded = _decode(memoryview(data)[:whole] if whole < len(data) else data, altchars)
        except ValueError:  # binascii.Error: not plain data
            return None
        rest = data[whole:]  # not seen by the decoder: checked here
        if rest.translate(None, _ALNUM + self._alphabet):
            return None
        self._quantum = rest.translate(_URL_TO_STANDARD) if altchars else rest
        return decoded

    def _data(self, segment: bytes, at: int) -> bytes:
        """Decode alphabet characters and line breaks starting at stream offset `at`."""
        data = segment
        standard = b"+" in data or b"/" in data
        url_safe = b"-" in data or b"_" in data
        if standard or url_safe:
            self._check_alphabet(standard, url_safe, segment, at)
            if self._alphabet == _URL_SAFE:
                data = data.translate(_URL_TO_STANDARD)
        if b"\r" in data:  # (`in` is memchr; replace deletes a byte at memcpy speed)
            data = data.replace(b"\r", b"")
        if b"\n" in data:
            data = data.replace(b"\n", b"")
        if self._quantum:
            data = self._quantum + data
        whole = len(data) & ~3  # decode whole groups of 4 characters, carry the rest
        self._quantum = data[whole:]
        if not whole:
            return b""
        # Only standard-alphabet characters are left: validation cannot fail here.
        return _decode(memoryview(data)[:whole] if whole < len(data) else data, None)

    def _check_alphabet(self, standard: bool, url_safe: bool, segment: bytes, at: int) -> None:
        """One alphabet per body: the first '+/' or '-_' chooses it."""
        if not self._alphabet:
            if standard and url_safe:
                first_std = _STANDARD_CHAR.search(segment).start()  # type: ignore[union-attr]
                first_url = _URL_SAFE_CHAR.search(segment).start()  # type: ignore[union-attr]
                self._alphabet = _STANDARD if first_std < first_url else _URL_SAFE
                self._alphabet_at = at + min(first_std, first_url)
            else:
                self._alphabet = _STANDARD if standard else _URL_SAFE
                finder = _STANDARD_CHAR if standard else _URL_SAFE_CHAR
                self._alphabet_at = at + finder.search(segment).start()  # type: ignore[union-attr]
                return
        wrong = url_safe if self._alphabet == _STANDARD else standard
        if wrong:
            finder = _URL_SAFE_CHAR if self._alphabet == _STANDARD else _STANDARD_CHAR
            bad = finder.search(segment).start()  # type: ignore[union-attr]
            other = _URL_SAFE if self._alphabet == _STANDARD else _STANDARD
            raise BadInput(
                f"invalid base64 at byte {at + bad}: {_shown(segment[bad])} is from the "
                f"{_ALPHABET_NAMES[other]} alphabet but byte {self._alphabet_at} used the "
                f"{_ALPHABET_NAMES[self._alphabet]} one"
            )

    def _tail(self, chunk: bytes, pos: int, base: int) -> None:
        """After the data: padding, line breaks and blanks only."""
        n = len(chunk)
        while pos < n:
            byte = chunk[pos]
            if byte == 0x0A or byte == 0x0D:
                pos = _BREAKS.match(chunk, pos).end()  # type: ignore[union-attr]
            elif byte == 0x20 or byte == 0x09:
                if self._blank_at < 0:
                    self._blank_at = base + pos
                pos = _BLANKS.match(chunk, pos).end()  # type: ignore[union-attr]
            elif byte == 0x3D and self._blank_at < 0:  # '='
                if not self._padding and len(self._quantum) < 2:
                    raise BadInput(
                        f"invalid base64 at byte {base + pos}: '=' padding after a group of "
                        f"{len(self._quantum)} character{'s' if len(self._quantum) != 1 else ''} "
                        "(padding only completes a group of 2 or 3)"
                    )
                self._padding += 1
                if len(self._quantum) + self._padding > 4:
                    raise BadInput(f"invalid base64 at byte {base + pos}: too much '=' padding")
                pos += 1
            else:
                raise self._unexpected(chunk[pos], base + pos)

    def _unexpected(self, byte: int, at: int) -> BadInput:
        is_data = byte in _DATA_AND_BREAKS or byte == 0x3D
        if self._blank_at >= 0 and is_data:
            return BadInput(
                f"invalid base64 at byte {self._blank_at}: a space or tab inside the data "
                "(only line breaks may separate base64 characters)"
            )
        if self._padding and is_data:
            return BadInput(f"invalid base64 at byte {at}: {_shown(byte)} after the '=' padding")
        return BadInput(f"invalid base64 at byte {at}: {_shown(byte)} is not a base64 character")
