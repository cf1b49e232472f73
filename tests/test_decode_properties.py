"""Property tests for body decoding: never a crash, JSON agrees with json.loads,
base64 and multipart round trips, whatever the chunking."""

from __future__ import annotations

import base64
import io
import json
import re
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from faassupervisor.errors import BadInput
from faassupervisor.events.base64_stream import Base64Decoder
from faassupervisor.events.body import DEFAULT_NAME, KINDS, DecodedBody, decode_body
from faassupervisor.events.json_stream import JsonValidator, is_whole_document
from faassupervisor.events.multipart import MultipartParser
from tests.test_decode_chunks import Sink  # the multipart parser's in-memory sink

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, cuts) -> list:
    """`data` cut at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


cuts = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=8)


# -- any bytes: a DecodedBody or BadInput, nothing else ----------------------

JSONISH = b'{}[]":,0123456789-+.eE tfalsenru\\\n\t'
BASE64ISH = string.ascii_letters.encode() + b"0123456789+/-_=\r\n \t"
MULTIPART_PIECES = [
    b"--B", b"--B--", b"\r\n", b"\n", b"Content-Disposition: form-data; name=\"f\"",
    b"; filename=\"x.bin\"", b"; filename=\"../../etc/passwd\"", b"data", b"--", b"\r",
]
any_body = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(list(JSONISH)), max_size=200).map(bytes),
    st.lists(st.sampled_from(list(BASE64ISH)), max_size=200).map(bytes),
    st.lists(st.sampled_from(MULTIPART_PIECES), max_size=30).map(b"".join),
)
content_types = st.sampled_from([
    None, "", "application/json", "text/plain; charset=utf-8", "application/octet-stream",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=B", "multipart/form-data",
    "multipart/form-data; boundary=\"\"",
])


@SETTINGS
@given(body=any_body, content_type=content_types, chunk_size=st.sampled_from([1, 2, 5, 64, 1 << 20]))
def test_any_bytes_decode_or_are_bad_input(body, content_type, chunk_size):
    with tempfile.TemporaryDirectory() as tmp:
        input_dir = Path(tmp)
        try:
            decoded = decode_body(io.BytesIO(body), content_type, input_dir, chunk_size=chunk_size)
        except BadInput as err:
            assert "\n" not in str(err)
            assert list(input_dir.iterdir()) == []
            return
        assert isinstance(decoded, DecodedBody)
        assert decoded.kind in KINDS
        assert Path(decoded.path).parent == input_dir
        assert [p.name for p in input_dir.iterdir()] == [Path(decoded.path).name]
        written = Path(decoded.path).read_bytes()
        assert decoded.size == len(written)
        if decoded.kind in ("json", "raw"):
            assert written == body  # byte for byte, never re-serialised
        if decoded.kind == "json":
            json.loads(body)  # raises if the validator let invalid JSON through


# -- JSON: the validator agrees with json.loads ------------------------------


def _reject(name):
    raise ValueError(name)


def json_loads_accepts(data: bytes):
    """json.loads' verdict on UTF-8 input, RFC-strict (no NaN/Infinity); None if it overflows."""
    try:
        text = data.decode("utf-8")
        json.loads(text, parse_constant=_reject)
    except (UnicodeDecodeError, ValueError):
        return False
    except RecursionError:
        return None
    return True


def validator_accepts(pieces) -> bool:
    validator = JsonValidator()
    try:
        for piece in pieces:
            validator.feed(piece)
        validator.close()
    except BadInput:
        return False
    return True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@st.composite
def json_documents(draw):
    value = draw(json_values)
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2, "\t"])),
        separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])),
    )
    return draw(st.sampled_from(["", " ", "\n\t"])) + text + draw(st.sampled_from(["", "\n", " \r\n"]))


@st.composite
def mutated(draw, documents):
    data = bytearray(draw(documents).encode("utf-8"))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        byte = draw(st.sampled_from(list(JSONISH + b"\x00\x1f\x7f\xc3\xa9\xff\xed\xa0\x80'Nn")))
        if action == "insert":
            data.insert(where, byte)
        elif action == "truncate":
            del data[where:]
        elif data and where < len(data):
            if action == "delete":
                del data[where]
            else:
                data[where] = byte
    return bytes(data)


TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}\[\],:]|\s+')
TOKEN_POOL = ["{", "}", "[", "]", ",", ":", '"k"', "0", "-1.5e+3", "true", "null", " ", "01", "1.", "-", "tru",
              '"\\x"', '"\\u00e"', "NaN", "'a'", '"\t"', "1e", ".5", "+1", "[]", "{}"]


small_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-99, 99) | st.sampled_from([0.5, -1e-3, 2e10])
    | st.text("ab\"\\\u00e9", max_size=3),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text("ab", max_size=2), children, max_size=3),
    max_leaves=6,
)


@st.composite
def token_mutated(draw):
    """A small valid document with one or two whole tokens deleted, repeated, inserted
    or swapped: trailing commas, missing colons, unbalanced brackets and their kin."""
    doc = json.dumps(draw(small_json_values), separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    tokens = TOKEN.findall(doc)
    for _ in range(draw(st.integers(1, 2))):
        significant = [i for i, token in enumerate(tokens) if not token.isspace()]
        if not significant:
            break
        i = draw(st.sampled_from(significant))
        action = draw(st.sampled_from(["delete", "repeat", "insert", "replace", "swap"]))
        if action == "delete":
            del tokens[i]
        elif action == "repeat":
            tokens.insert(i, tokens[i])
        elif action == "insert":
            tokens.insert(i, draw(st.sampled_from(TOKEN_POOL)))
        elif action == "replace":
            tokens[i] = draw(st.sampled_from(TOKEN_POOL))
        elif i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    return "".join(tokens).encode("utf-8")


@SETTINGS
@given(doc=json_documents(), cut=cuts)
def test_json_validator_accepts_what_json_dumps_writes(doc, cut):
    data = doc.encode("utf-8")
    assert validator_accepts(split(data, cut))


@settings(max_examples=600, deadline=None)
@given(data=mutated(json_documents()) | token_mutated() | token_mutated()
       | st.lists(st.sampled_from(list(JSONISH)), max_size=60).map(bytes),
       cut=cuts)
def test_json_validator_agrees_with_json_loads(data, cut):
    expected = json_loads_accepts(data)
    assume(expected is not None)
    assert validator_accepts(split(data, cut)) == expected, data
    assert validator_accepts([data[i:i + 1] for i in range(len(data))]) == expected, data


@settings(max_examples=600, deadline=None)
@given(data=mutated(json_documents()) | token_mutated() | token_mutated()
       | st.lists(st.sampled_from(list(JSONISH)), max_size=60).map(bytes))
def test_the_one_call_check_accepts_nothing_the_validator_refuses(data):
    # decode_body trusts it for bodies that arrive whole in one read; what it refuses goes to the validator
    if is_whole_document(data):
        assert validator_accepts([data]), data


def test_the_one_call_check_decides_plain_documents_and_leaves_python_limits_to_the_validator(tmp_path):
    assert is_whole_document(b' \t{"a": [1, -2.5e3, "\\u00e9", true, null], "b": {}}\r\n')  # it does decide
    assert not is_whole_document(b"\xef\xbb\xbf{}") and not is_whole_document(b"[NaN]")  # BOM, NaN: refused
    # Python's decoder stops near 1000 levels and at its int-to-str limit; JSON has neither limit
    for body in (b"[" * 3000 + b"]" * 3000, b"[" + b"7" * 5000 + b"]"):
        assert not is_whole_document(body)
        assert decode_body(io.BytesIO(body), None, tmp_path).kind == "json"


# -- base64: round trip in both alphabets ------------------------------------


@SETTINGS
@given(
    raw=st.binary(max_size=3000),
    url_safe=st.booleans(),
    padded=st.booleans(),
    breaks=st.lists(st.tuples(st.integers(0, 1 << 16), st.sampled_from([b"\n", b"\r\n", b"\r"])), max_size=10),
    lead=st.sampled_from([b"", b" ", b"\r\n", b"\t \n"]),
    trail=st.sampled_from([b"", b"\n", b" \r\n", b"\t"]),
    cut=cuts,
)
def test_base64_round_trip(raw, url_safe, padded, breaks, lead, trail, cut):
    encoded = base64.urlsafe_b64encode(raw) if url_safe else base64.b64encode(raw)
    if not padded:
        encoded = encoded.rstrip(b"=")
    text = bytearray(encoded)
    for where, line_break in sorted(breaks, reverse=True):
        text[where % (len(text) + 1):where % (len(text) + 1)] = line_break
    body = lead + bytes(text) + trail

    decoder = Base64Decoder()
    out = b"".join(decoder.feed(piece) for piece in split(body, cut)) + decoder.close()
    assert out == raw

    if raw:
        with tempfile.TemporaryDirectory() as tmp:
            decoded = decode_body(io.BytesIO(body), None, Path(tmp), chunk_size=7)
            assert (decoded.kind, Path(decoded.path).read_bytes()) == ("base64", raw)


@SETTINGS
@given(raw=st.binary(min_size=1, max_size=300), where=st.integers(0, 1 << 16),
       intruder=st.sampled_from(list(b"!*.,:;{}\"'\x00\x7f\xc3\xff")), cut=cuts)
def test_base64_rejects_a_foreign_byte_anywhere(raw, where, intruder, cut):
    text = bytearray(base64.b64encode(raw))
    text.insert(where % (len(text) + 1), intruder)
    decoder = Base64Decoder()
    try:
        for piece in split(bytes(text), cut):
            decoder.feed(piece)
        decoder.close()
    except BadInput as err:
        assert "invalid base64 at byte" in str(err)
    else:
        raise AssertionError(f"accepted {bytes(text)!r}")


# -- multipart: round trip, names sanitised -----------------------------------

BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=?"
file_names = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from(["../../etc/passwd", "/etc/shadow", "C:\\Users\\me\\photo.png", "..", ".", "a\x00b.png",
                     "dir/sub/", "./x", "...", "é ü.txt"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)


def expected_name(name):
    """The oracle for multipart file names: the last usable path component, or None."""
    if not name or "\x00" in name:
        return None
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts or len(parts[-1].encode()) > 255:
        return None
    return parts[-1]


@SETTINGS
@given(
    boundary=st.text(alphabet=BCHARS, min_size=1, max_size=70),
    parts=st.lists(st.tuples(file_names, st.binary(max_size=600)), min_size=1, max_size=4),
    preamble=st.sampled_from([b"", b"preamble\r\n"]),
    epilogue=st.sampled_from([b"", b"\r\n", b"\r\nepilogue"]),
    cut=cuts,
)
def test_multipart_round_trip(boundary, parts, preamble, epilogue, cut):
    delimiter = b"\r\n--" + boundary.encode()
    assume(all(delimiter not in b"\r\n" + content for _, content in parts))
    body = bytearray(preamble)
    for name, content in parts:
        disposition = 'form-data; name="field"'
        if name is not None:
            disposition += '; filename="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        body += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition.encode()
        body += b"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary.encode() + b"--" + epilogue
    body = bytes(body)
    chosen_name, chosen_content = next(((n, c) for n, c in parts if n), parts[0])

    sink = Sink()
    parser = MultipartParser(boundary.encode(), sink)
    for piece in split(body, cut):
        parser.feed(piece)
    assert parser.close() == (chosen_name or None)
    assert bytes(sink.data) == chosen_content

    with tempfile.TemporaryDirectory() as tmp:
        input_dir = Path(tmp)
        content_type = f'multipart/form-data; boundary="{boundary}"'
        decoded = decode_body(io.BytesIO(body), content_type, input_dir, chunk_size=13)
        assert decoded.kind == "multipart"
        assert decoded.path == str(input_dir / (expected_name(chosen_name) or DEFAULT_NAME))
        assert Path(decoded.path).read_bytes() == chosen_content
        assert [p.name for p in input_dir.iterdir()] == [Path(decoded.path).name]
