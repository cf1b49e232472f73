"""Real storage servers on 127.0.0.1 for the storage tests, as pytest fixtures.

- moto's S3 server (`ThreadedMotoServer`) speaks S3 to both the minio SDK and boto3;
- wsgidav serves a temporary directory over WebDAV with HTTP Basic authentication;
- `tests/onedata_fake.py` stands in for a Oneprovider's CDMI interface;
- `FaultProxy` sits in front of any of them and fails chosen requests, the way a
  flaky network or a throttling server does.

Test modules import the fixtures they use from here. Every server stops at the
end of the session, whatever happened.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
WEBDAV_LOGIN = "tester"
WEBDAV_PASSWORD = "s3cret pass"
ONEDATA_TOKEN = "onedata-test-token"
ONEDATA_SPACE = "my space"


class S3Server:
    """moto's S3 server, and a boto3 client to arrange and inspect buckets directly."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client = self.make_client(self.url)

    @staticmethod
    def make_client(url: str):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def bucket(self, prefix: str = "bucket") -> str:
        """A new, empty bucket with a unique name (tests share one server)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def stop(self) -> None:
        self._server.stop()


class WsgiServer:
    """Any WSGI app on a werkzeug server in a thread, on a free loopback port."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="wsgi-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def webdav_app(root: Path):
    from wsgidav.wsgidav_app import WsgiDAVApp

    return _limit_input(WsgiDAVApp(
        {
            "provider_mapping": {"/": str(root)},
            "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False},
            "simple_dc": {"user_mapping": {"*": {WEBDAV_LOGIN: {"password": WEBDAV_PASSWORD}}}},
            "verbose": 1,
            "logging": {"enable": False},
            "dir_browser": {"enable": False},
        }
    ))


def _limit_input(app):
    """Bound `wsgi.input` to Content-Length, as cheroot (wsgidav's usual server) does.

    wsgidav reads a PUT body until end of stream; werkzeug's server hands the
    raw socket over, so without this a kept-alive PUT would wait forever.
    """
    from werkzeug.wsgi import LimitedStream

    def middleware(environ, start_response):
        length = environ.get("CONTENT_LENGTH", "")
        if length.isdigit():
            environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], int(length))
        return app(environ, start_response)

    return middleware


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("webdav-root")
    server = WsgiServer(webdav_app(root))
    server.root = root
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def onedata_server(tmp_path_factory):
    from tests.onedata_fake import create_app

    root = tmp_path_factory.mktemp("onedata-root")
    server = WsgiServer(create_app(root, ONEDATA_TOKEN, spaces=(ONEDATA_SPACE,)))
    server.root = root / ONEDATA_SPACE
    try:
        yield server
    finally:
        server.stop()


class FaultProxy:
    """An HTTP proxy to `upstream` that fails the requests `should_fail(method, path, number)` picks.

    A failed request is answered, after its body has been read, by dropping
    the connection (`mode="reset"`: connection reset, as a flaky network does),
    by S3's `503 SlowDown` (`mode="slowdown"`: throttling), or it is forwarded
    one byte short (`mode="truncate"`: a PUT stores, a GET returns, one byte
    less, with a consistent Content-Length: only a size check notices).
    `delay` slows every forwarded request down; `max_in_flight` records the
    most requests seen at once.
    """

    def __init__(self, upstream: str, mode: str = "reset", delay: float = 0.0):
        match = re.fullmatch(r"http://([^:/]+):(\d+)", upstream)
        assert match, upstream
        self.upstream = (match.group(1), int(match.group(2)))
        self.mode = mode
        self.delay = delay
        self.should_fail: Callable[[str, str, int], bool] = lambda method, path, number: False
        self.requests = 0
        self.failed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen = []  # (method, path) of every request, in arrival order
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )
        self._thread.start()

    def fail_first(self, count: int) -> None:
        self.should_fail = lambda method, path, number: number <= count

    def fail_matching(self, pattern: str, methods=None) -> None:
        """Fail every request (of `methods`, default all) whose URL-decoded path matches `pattern`."""
        from urllib.parse import unquote

        regex = re.compile(pattern)
        self.should_fail = lambda method, path, number: bool(
            regex.search(unquote(path)) and (methods is None or method in methods)
        )

    def decide(self, method: str, path: str) -> bool:
        with self._lock:
            self.requests += 1
            self.seen.append((method, path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fail = self.should_fail(method, path, self.requests)
            self.failed += fail
            return fail

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def _relay(self):
        proxy: FaultProxy = self.server.proxy
        assert "chunked" not in self.headers.get("Transfer-Encoding", ""), "chunked request bodies not supported"
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fail = proxy.decide(self.command, self.path)
        try:
            self._answer(proxy, body, fail)
        finally:
            proxy.done()

    def _answer(self, proxy: "FaultProxy", body: bytes, fail: bool):
        truncate = fail and proxy.mode == "truncate"
        if fail and not truncate:
            if proxy.mode == "reset":
                # Linger 0: closing sends RST, the client sees "connection reset".
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(_SLOWDOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(_SLOWDOWN)
            return
        if proxy.delay:
            threading.Event().wait(proxy.delay)
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if truncate and self.command == "PUT" and body:
                body = body[:-1]
                headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "content-md5")}
                headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            if truncate and self.command == "GET" and payload:
                payload = payload[:-1]
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(payload))
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay


@pytest.fixture
def fault_proxy(s3_server):
    """A fresh FaultProxy in front of the session's S3 server (passes everything until told)."""
    proxy = FaultProxy(s3_server.url)
    try:
        yield proxy
    finally:
        proxy.stop()


def free_port() -> int:
    """A loopback port nothing listens on (for "endpoint down" cases)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


__all__ = [
    "ACCESS_KEY",
    "FaultProxy",
    "ONEDATA_SPACE",
    "ONEDATA_TOKEN",
    "S3Server",
    "SECRET_KEY",
    "WEBDAV_LOGIN",
    "WEBDAV_PASSWORD",
    "fault_proxy",
    "free_port",
    "onedata_server",
    "s3_server",
    "webdav_server",
]
