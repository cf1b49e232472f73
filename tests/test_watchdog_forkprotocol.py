"""The fork protocol, both halves through one real socket: what the client sends, the child reads."""

from __future__ import annotations

import os
import socket

import pytest

from fwatchdog import forkprotocol


def test_a_request_arrives_whole_with_its_two_pipe_ends():
    client, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    read_end, write_end = os.pipe()
    try:
        variables = {"Http_X_Name": "Zoë \"quoted\"", "TMPDIR": "/tmp/lent"}
        forkprotocol.send_request(client, variables, "/tmp/lent", read_end, write_end)
        data, fds = forkprotocol.receive(child, 2)
        assert forkprotocol.parse(data) == {"variables": variables, "work_dir": "/tmp/lent"}
        assert len(fds) == 2
        os.write(fds[1], b"through the passed pipe")
        assert os.read(read_end, 100) == b"through the passed pipe"
        for fd in fds:
            os.close(fd)
        forkprotocol.send_request(client, {}, None, read_end, write_end)  # no lent dir: no key
        data, fds = forkprotocol.receive(child, 2)
        assert forkprotocol.parse(data) == {"variables": {}}
        for fd in fds:
            os.close(fd)
        assert forkprotocol.peer(child) == (os.getpid(), os.getuid())
    finally:
        for end in (client, child):
            end.close()
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("key, value", [(forkprotocol.PID, 1234), (forkprotocol.EXIT, -9),
                                        (forkprotocol.CONTENT_TYPE, 'text/plain; name="é\\"x"')])
def test_each_child_message_reads_back_as_sent(key, value):
    assert forkprotocol.parse(forkprotocol.reply(key, value)) == {key: value}


@pytest.mark.parametrize("data", [b"", b"nonsense", b"[1, 2]", b'{"pid": '])
def test_what_is_not_a_message_is_refused_in_one_line(data):
    with pytest.raises(ValueError, match="not a JSON fork protocol message"):
        forkprotocol.parse(data)
