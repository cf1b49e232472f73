"""Body decoding (interim, whole-body version; the streaming decoders replace it)."""
import base64, binascii, json
from typing import NamedTuple
from pathlib import Path
from faassupervisor.errors import BadInput
class DecodedBody(NamedTuple):
    path: Path
    kind: str
    size: int
    head: bytes
def decode_body(stream, content_type, input_dir, chunk_size=1<<20):
    data = stream.read()
    path = input_dir / "event_file"
    s = data.strip()
    if not s:
        raise BadInput("empty body: send JSON, base64, multipart/form-data or application/octet-stream")
    if content_type == "application/octet-stream":
        kind, out = "raw", data
    elif s[:1] in b"{[":
        try: json.loads(s)
        except ValueError: raise BadInput("not JSON")
        kind, out = "json", data
    else:
        try: out = base64.b64decode(s.replace(b"\n", b""), validate=True)
        except binascii.Error: raise BadInput(f"body is neither JSON nor base64: {s[:20]!r}")
        kind = "base64"
    path.write_bytes(out)
    return DecodedBody(path, kind, len(out), out[:65536])
