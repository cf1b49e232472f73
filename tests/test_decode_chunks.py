"""Chunk edges in base64 and multipart bodies: every split point gives the same result."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest

from faassupervisor.errors import BadInput
from faassupervisor.events.base64_stream import Base64Decoder
from faassupervisor.events.body import decode_body
from faassupervisor.events.multipart import MultipartParser


def splits(data: bytes):
    """Whole, byte by byte, and cut once at every offset."""
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def b64(pieces):
    decoder = Base64Decoder()
    try:
        return b"".join(decoder.feed(p) for p in pieces) + decoder.close()
    except BadInput as err:
        return str(err)


@pytest.mark.parametrize("body,expected", [
    (b"QUJDRA==", b"ABCD"),  # padding split between the two '='
    (b"QUJDREU=", b"ABCDE"),
    (b"QUJDRA", b"ABCD"),  # no padding
    (b"QUJD\r\nRA\r\n=\r\n=\r\n", b"ABCD"),  # CRLF split between CR and LF, around padding
    (b" \t\r\nQU\nJDRA==\n \t", b"ABCD"),  # blanks before and after
    (b"-_-_", base64.urlsafe_b64decode(b"-_-_")),
    (b"+/+/", base64.b64decode(b"+/+/")),
])
def test_base64_same_output_at_every_split(body, expected):
    for pieces in splits(body):
        assert b64(pieces) == expected, pieces


@pytest.mark.parametrize("body,message", [
    (b"QUJDRA=\r\n", "incomplete padding"),
    (b"QUJDRA===", "invalid base64 at byte 8: too much '=' padding"),
    (b"QUJDRA==QQ", "invalid base64 at byte 8: 'Q' after the '=' padding"),
    (b"QUJD RA==", "invalid base64 at byte 4: a space or tab inside the data"),
    (b"QU+/QU-_", "invalid base64 at byte 6: '-' is from the URL-safe ('-_') alphabet but byte 2 used"),
    (b"QU-_QU+/", "invalid base64 at byte 6: '+' is from the standard ('+/') alphabet but byte 2 used"),
    (b"QUJDR", "one character left over"),
    (b"QUJDR=", "invalid base64 at byte 5: '=' padding after a group of 1 character"),
])
def test_base64_same_error_at_every_split(body, message):
    for pieces in splits(body):
        result = b64(pieces)
        assert isinstance(result, str) and message in result, (pieces, result)


class Sink:
    """Where the multipart parser writes a part, kept in memory (shared with the property tests)."""

    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data

    def reset(self):
        self.data.clear()


def parse_multipart(pieces, boundary=b"XyZ"):
    sink = Sink()
    parser = MultipartParser(boundary, sink)
    for piece in pieces:
        parser.feed(piece)
    return parser.close(), bytes(sink.data)


FORM = (
    b"--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nsecret\r\n"
    b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"in.txt\"\r\n"
    b"Content-Type: text/plain\r\n\r\n"
    b"line 1\r\n--XyZz not a boundary\r\n--Xy\r\n\r\nlast\r\n"
    b"--XyZ  \r\nContent-Disposition: form-data; name=\"g\"; filename=\"other.txt\"\r\n\r\nno\r\n"
    b"--XyZ--\r\n"
)


def test_multipart_boundary_split_at_every_position():
    expected = ("in.txt", b"line 1\r\n--XyZz not a boundary\r\n--Xy\r\n\r\nlast")
    for pieces in splits(FORM):
        assert parse_multipart(pieces) == expected, pieces


def test_multipart_missing_closing_boundary_at_every_split():
    body = FORM[: -len(b"--XyZ--\r\n")] + b"--XyZ-"
    for pieces in splits(body):
        with pytest.raises(BadInput, match="closing boundary '--XyZ--'"):
            parse_multipart(pieces)


def test_multipart_large_part_is_streamed_and_exact(tmp_path):
    content = os.urandom(3 << 20) + b"\r\n--XyZ" + os.urandom(1000)  # a lookalike inside, no line end
    body = (
        b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n\r\n"
        + content + b"\r\n--XyZ--\r\n"
    )
    assert b"\r\n--XyZ\r\n" not in content and b"\r\n--XyZ--" not in content
    for chunk_size in (1 << 20, 65_537, 4093):
        decoded = decode_body(io.BytesIO(body), "multipart/form-data; boundary=XyZ", tmp_path, chunk_size)
        assert Path(decoded.path).name == "big.bin"
        assert Path(decoded.path).read_bytes() == content
        assert decoded.size == len(content)
        os.unlink(decoded.path)


def test_multipart_first_part_replaced_by_a_later_file_part(tmp_path):
    body = (
        b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + b"field" * 100_000 + b"\r\n"
        b"--B\r\nContent-Disposition: form-data; name=\"b\"; filename=\"f.txt\"\r\n\r\nfile\r\n--B--\r\n"
    )
    decoded = decode_body(io.BytesIO(body), "multipart/form-data; boundary=B", tmp_path, chunk_size=4096)
    assert (Path(decoded.path).name, decoded.size) == ("f.txt", 4)
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_multipart_endless_blanks_after_a_boundary_are_not_buffered():
    sink = Sink()
    parser = MultipartParser(b"B", sink)
    parser.feed(b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nx\r\n--B")
    for _ in range(1000):
        parser.feed(b" " * 1000)
        assert len(parser._buf) < 2048  # blanks that never end a boundary line are content
    parser.feed(b"\r\n--B--\r\n")
    assert parser.close() == "a"
    assert bytes(sink.data) == b"x\r\n--B" + b" " * 1_000_000
