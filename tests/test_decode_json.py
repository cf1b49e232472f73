"""The streaming JSON validator: exhaustive agreement with json.loads on short
token sequences, chunk edges inside every kind of token, offsets and limits."""

from __future__ import annotations

import itertools
import json

import pytest

from faassupervisor.errors import BadInput
from faassupervisor.events import json_stream
from faassupervisor.events.json_stream import MAX_DEPTH, JsonValidator


def _reject(name):
    raise ValueError(name)


def json_loads_accepts(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"), parse_constant=_reject)
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def verdict(pieces):
    """None when accepted, else the BadInput message."""
    validator = JsonValidator()
    try:
        for piece in pieces:
            validator.feed(piece)
        validator.close()
    except BadInput as err:
        return str(err)
    return None


def every_split(data: bytes):
    """The document whole, byte by byte, and cut once at every offset."""
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


# One representative per token class, right and wrong.
TOKENS = ["{", "}", "[", "]", ",", ":", '"k"', "1", "-0.5e3", "true", "null", "01", "1.", "tru", "NaN", "'a'"]
CONTEXTS = [("", ""), ("[", "]"), ("{", "}"), ('{"k":', "}"), ("[1,", "]"), ('{"a":1,', "}")]


def test_short_token_sequences_agree_with_json_loads():
    """Every sequence of up to 3 tokens, bare and inside containers: this walks
    every (state, next token) pair of the grammar, which random inputs miss."""
    disagreements = []
    for length in range(4):
        for tokens in itertools.product(TOKENS, repeat=length):
            body = "".join(tokens)
            for before, after in CONTEXTS:
                doc = (before + body + after).encode()
                expected = json_loads_accepts(doc)
                if (verdict([doc]) is None) != expected:
                    disagreements.append(doc)
                elif (verdict([doc[i:i + 1] for i in range(len(doc))]) is None) != expected:
                    disagreements.append(doc + b" (byte by byte)")
    assert disagreements == []


@pytest.mark.parametrize("doc", [
    b'["\\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r"]',  # every escape, split everywhere
    '["h\u00e9llo \u4e2d \U0001f600"]'.encode(),  # multi-byte UTF-8, split mid-character
    b'[-12.5e+10, 0, -0, 1E-2, 123456789012345678901234567890]',  # numbers
    b'[true, false, null]',  # literals
    b'{"a": {"b": [[], {}, [{"c": null}]]}}',  # nesting
    b' \r\n\t{"k" : "v" } \n',  # blanks everywhere
])
def test_valid_documents_whatever_the_chunking(doc):
    assert json_loads_accepts(doc)
    for pieces in every_split(doc):
        assert verdict(pieces) is None, pieces


@pytest.mark.parametrize("doc,message", [
    (b'["\\u00g0"]', "invalid JSON at byte 2: invalid escape '\\\\u00g' in a string"),
    (b'["\\q"]', "invalid JSON at byte 2: invalid escape '\\\\q' in a string"),
    (b'["a\x01"]', "invalid JSON at byte 3: control character 0x01 inside a string (escape it)"),
    (b'["caf\xc3"]', "invalid JSON at byte 5: invalid UTF-8"),
    (b'["\xed\xa0\x80"]', "invalid JSON at byte 2: invalid UTF-8"),  # an encoded surrogate
    (b'[1.e5]', "invalid JSON at byte 1: invalid number '1.e5'"),
    (b'[-]', "invalid JSON at byte 1: invalid number '-'"),
    (b'[1 2]', "invalid JSON at byte 3: expected ',' or ']', found '2'"),
    (b'[nul]', "invalid JSON at byte 1: invalid literal, expected 'null'"),
    (b'{"a" 1}', "invalid JSON at byte 5: expected ':' after an object key, found '1'"),
    (b'{"a":1,}', "invalid JSON at byte 7: expected a string key, found '}'"),
    (b'[1]]', "invalid JSON at byte 3: unexpected ']' after the JSON value"),
    (b'[1', "invalid JSON at byte 2: truncated after a value, 1 bracket left open"),
    (b'[[["abc', "invalid JSON at byte 7: truncated inside a string, 3 brackets left open"),
    (b'["\\u00', "invalid JSON at byte 6: truncated inside a string escape"),
    (b'{"a":', "invalid JSON at byte 5: truncated while expecting a value, 1 bracket left open"),
    (b'[1e', "invalid JSON at byte 1: invalid number '1e'"),
    (b"\xef\xbb\xbf[1]", "invalid JSON at byte 0: expected a value, found byte 0xef"),  # a BOM
])
def test_invalid_documents_give_the_same_message_whatever_the_chunking(doc, message):
    assert not json_loads_accepts(doc)
    for pieces in every_split(doc):
        assert verdict(pieces) == message, pieces


def test_offsets_count_bytes_of_the_whole_stream():
    head = b'{"pad": "' + b"x" * 100_000 + b'", "n": [1, 2, '
    doc = head + b'x]}'
    for size in (1 << 20, 4096, 7):
        pieces = [doc[i:i + size] for i in range(0, len(doc), size)]
        assert verdict(pieces) == f"invalid JSON at byte {len(head)}: expected a value, found 'x'"


def test_nesting_limit():
    assert verdict([b"[" * MAX_DEPTH + b"]" * MAX_DEPTH]) is None
    assert verdict([b"[" * (MAX_DEPTH + 1)]) == (
        f"invalid JSON at byte {MAX_DEPTH}: nested deeper than {MAX_DEPTH} levels"
    )


def test_an_endless_number_keeps_memory_flat():
    validator = JsonValidator()
    validator.feed(b"[1")
    for _ in range(200):
        validator.feed(b"1234567890" * 1000)
        assert len(validator._carry) <= 4096  # a number is carried, squeezed, never accumulated
    validator.feed(b"]")
    validator.close()


def test_fast_path_windows_do_not_change_the_verdict(monkeypatch):
    """The C-scanner fast path works in windows; tiny windows cut every value."""
    monkeypatch.setattr(json_stream, "_WINDOW", 8)
    docs = [
        b'[{"id": 1, "tags": ["a", "b"], "ok": true}, {"id": 22, "x": -1.5e3}]',
        b'[1.5, 2.25, 1000000, -3]',
        b'[1.5, 2.25, 1000000. , -3]',
        b'{"a": [1, 2, {"b": "c\\u00e9"}], "d": nul}',
    ]
    for doc in docs:
        for pieces in every_split(doc):
            assert (verdict(pieces) is None) == json_loads_accepts(doc), pieces
