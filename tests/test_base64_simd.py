"""Base64 at memory speed: request bodies and responses go through pybase64, never the stdlib's
binascii, and the fast path keeps every rule of the exact one (the corpus and property tests
cover the rules; these cover what only the fast path could get wrong)."""

from __future__ import annotations

import base64
import binascii
import io
import os

import pytest

from faassupervisor.errors import BadInput
from faassupervisor.events.base64_stream import Base64Decoder
from faassupervisor.response import write_base64

RAW = os.urandom(3 << 16)
ENCODED = base64.b64encode(RAW)  # here: the tests below forbid binascii for bulk data


@pytest.fixture
def no_binascii_for_bulk(monkeypatch):
    """binascii may still decode the last group of a body (a few bytes), not the bulk of it."""
    decode, encode = binascii.a2b_base64, binascii.b2a_base64

    def a2b(data, *args, **kwargs):
        assert len(data) <= 4, "a body decoded by binascii"
        return decode(data, *args, **kwargs)

    def b2a(data, *args, **kwargs):
        assert len(data) <= 3, "a response encoded by binascii"
        return encode(data, *args, **kwargs)

    monkeypatch.setattr(binascii, "a2b_base64", a2b)
    monkeypatch.setattr(binascii, "b2a_base64", b2a)


def decode(pieces) -> bytes:
    decoder = Base64Decoder()
    return b"".join(decoder.feed(piece) for piece in pieces) + decoder.close()


def in_chunks(data: bytes, size: int) -> list:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("encoded", [
    ENCODED,
    base64.encodebytes(RAW),  # 76-column lines, as `base64` writes
    base64.encodebytes(RAW).replace(b"\n", b"\r\n"),
    base64.urlsafe_b64encode(RAW).rstrip(b"="),
], ids=["one-line", "76-columns", "crlf", "url-safe-unpadded"])
def test_bodies_are_decoded_by_pybase64(no_binascii_for_bulk, encoded):
    assert decode(in_chunks(encoded, 65536 + 1)) == RAW


def test_responses_are_encoded_by_pybase64(no_binascii_for_bulk, tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(RAW)
    out = io.BytesIO()
    write_base64(path, out)
    assert out.getvalue() == ENCODED


def test_padding_in_a_whole_group_is_still_the_end():
    # pybase64 accepts `QUJDRA==` as a whole group: the data after it must still be refused.
    with pytest.raises(BadInput, match=r"at byte 8: 'Q' after the '=' padding"):
        decode([b"QUJDRA==", b"QUJD"])


def test_url_safe_body_refuses_a_standard_character_in_a_later_chunk():
    # With altchars, pybase64 also takes '+' and '/': the alphabet is enforced before it.
    with pytest.raises(BadInput, match=r"at byte 8: '\+' is from the standard"):
        decode([b"ab-d", b"abcd", b"+bcd"])


def test_a_leftover_of_the_other_alphabet_is_refused_in_the_next_chunk():
    # The 1-3 characters carried to the next chunk are checked as well as the decoded groups.
    with pytest.raises(BadInput, match=r"at byte 6: '-' is from the URL-safe"):
        decode([b"ab/dab", b"-d"])
    assert decode([b"ab-", b"_", b"abc", b"d"]) == base64.urlsafe_b64decode(b"ab-_abcd")
