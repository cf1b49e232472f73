"""The fork protocol: what `fwatchdog.forkclient` and a child of `fwatchdog.forkserver` say.

One connection per invocation, over a unix SOCK_SEQPACKET socket in the
abstract namespace (no file to clean up, no path-length limit; only our own
user's processes are served, checked with SO_PEERCRED), where message
boundaries are kept and file descriptors travel with SCM_RIGHTS, so bodies
never pass through the fork server. Each message is one JSON object:

    client -> child   {"variables": {...}, "work_dir": "..."} + fds [stdin read end, stdout write end]
    child  -> client  {"pid": N}               once it has the request
    child  -> client  {"content_type": "..."}  before the first response byte
    child  -> client  {"exit": status}         when the invocation is over, before the process exits

A connection that ends without an `exit` message means the child died (it was
killed, or crashed). `variables` are the request's own (CGI headers, TMPDIR):
the child lays them over the server's environment, which is the watchdog's
(it started the server with it), so a pod's hundreds of variables are not
encoded, sent and decoded per request. `work_dir` (optional) is the private
directory the client lends the invocation and clears afterwards
(`InvocationOptions.work_dir`).

Both sides import this module; the child's half is written for a forked
process, where each page written is a copy-on-write fault: encoders and
structs are built once here, in the server, before any fork.
"""

from __future__ import annotations

import json
import socket
import struct
from json.encoder import encode_basestring_ascii

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing would be ~1 MB more of heap to copy at every fork
    from typing import List, Mapping, Optional, Tuple

MAX_MESSAGE = 1 << 20  # the request message carries its variables (its headers among them)
SEND_BUFFER = 4 << 20

# The keys of the child's messages.
PID = "pid"
CONTENT_TYPE = "content_type"
EXIT = "exit"


def socket_address(name: str) -> str:
    """`@name` is the abstract socket `\\0name` (a NUL cannot travel in a command line)."""
    return "\0" + name[1:] if name.startswith("@") else name


# ---- client side

_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps would build one per call


def send_request(conn: socket.socket, variables: Mapping[str, str], work_dir: Optional[str],
                 stdin_fd: int, stdout_fd: int) -> None:
    """The request: the invocation's variables and lent work dir, with its two pipe ends."""
    message: dict[str, object] = {"variables": dict(variables)}
    if work_dir is not None:
        message["work_dir"] = work_dir
    socket.send_fds(conn, [_ENCODER.encode(message).encode()], [stdin_fd, stdout_fd])


# ---- both sides

_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner; set in __init__, not in typeshed


def parse(data: bytes) -> dict:
    """One message. Not json.loads: its Python layers (encoding detection, decode,
    raw_decode, two regex matches) cost a forked child ~30 page faults; the C scanner is
    what they end up calling."""
    try:
        message, _end = _SCAN(data.decode(), 0)
    except (StopIteration, ValueError):
        raise ValueError(f"not a JSON fork protocol message: {data[:80]!r}") from None
    if not isinstance(message, dict):
        raise ValueError(f"not a JSON fork protocol message: {data[:80]!r}")
    return message


# ---- child side

def reply(key: str, value) -> bytes:
    """A child's one-field message (`{"exit":0}`), formatted here: a JSON encoder would be built
    for each (a score of page faults per child). Strings are quoted by json's own C function, so
    the result is the JSON `parse` reads."""
    text = encode_basestring_ascii(value) if isinstance(value, str) else str(int(value))
    return f'{{"{key}":{text}}}'.encode()


_PEEK_SIZE = int(socket.MSG_PEEK | socket.MSG_TRUNC)  # once: ORing enum flags costs a child page faults


def receive(sock: socket.socket, max_fds: int) -> Tuple[bytes, List[int]]:
    """One whole message and its descriptors; the size is peeked first (no fixed 1 MiB buffer per call)."""
    size = sock.recv_into(bytearray(1), 1, _PEEK_SIZE)
    data, fds, _flags, _addr = socket.recv_fds(sock, max(1, min(size, MAX_MESSAGE)), max_fds,
                                               socket.MSG_CMSG_CLOEXEC)
    return data, fds


_PEERCRED = struct.Struct("3i")  # built here once, not looked up in struct's cache by every child


def peer(conn: socket.socket) -> Tuple[int, int]:
    """The connecting process's pid and uid."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, _gid = _PEERCRED.unpack(creds)
    return pid, uid


def send(conn: socket.socket, message: bytes) -> None:
    """A child's message; nothing if the client went away (timeout, disconnect): it no longer cares."""
    try:
        conn.send(message)
    except OSError:
        pass
