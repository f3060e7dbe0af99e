"""The fault proxy itself, in front of a tiny HTTP server: each mode does what it says."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from failover.testing.proxy import Mode, TcpProxy
from tests.integration.servers import closed_port

pytestmark = pytest.mark.integration


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with its method, path and body length (keep-alive on)."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = f"{self.command} {self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest output is for failures


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def proxy(upstream: int) -> Iterator[TcpProxy]:
    with TcpProxy(upstream) as p:
        yield p


def _get(proxy: TcpProxy, path: str = "/x", timeout: float = 2.0) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


def test_pass_forwards_both_ways_and_keeps_connections_alive(proxy: TcpProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2.0)
    try:
        for i in range(3):
            conn.request("PUT", f"/k{i}", body=b"x" * 100_000)
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, f"PUT /k{i} 100000".encode())
    finally:
        conn.close()
    assert proxy.stats.accepted == 1  # one keep-alive connection carried all three


def test_delay_holds_each_request(proxy: TcpProxy) -> None:
    proxy.delay(0.3)
    began = time.monotonic()
    status, body, _ = _get(proxy)
    assert (status, body) == (200, b"GET /x 0")
    assert time.monotonic() - began >= 0.3


def test_blackhole_accepts_and_never_answers_even_on_an_open_connection(proxy: TcpProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=0.3)
    try:
        conn.request("GET", "/warm")
        assert conn.getresponse().read() == b"GET /warm 0"
        proxy.blackhole()
        conn.request("GET", "/lost")  # the same pooled connection: the fault reaches it too
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3) as s:  # connect succeeds
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            s.recv(1)
    assert proxy.stats.blackholed_chunks >= 2


def test_reset_closes_with_rst(proxy: TcpProxy) -> None:
    proxy.reset()
    # An RST, not an orderly close: the socket raises (at connect, send or recv,
    # whichever the RST overtakes) instead of recv returning b"".
    with pytest.raises(ConnectionResetError):  # noqa: SIM117 - the raise may come from the connect
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.05)
            s.recv(1)
    assert proxy.stats.resets >= 1


@pytest.mark.parametrize("body", [b"", b"y" * 200_000], ids=["empty", "200kB"])
def test_http_503_answers_every_request_after_reading_it(proxy: TcpProxy, body: bytes) -> None:
    proxy.http_503()
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2.0)
        try:
            # A large body too: the proxy must read it all, or its close would be an RST.
            conn.request("PUT", "/k", body=body)
            resp = conn.getresponse()
            assert resp.status == 503
            assert resp.getheader("Retry-After") == "1"
            assert resp.read() == b"Service Unavailable"
            assert resp.will_close
        finally:
            conn.close()
    assert proxy.stats.answered_503 == 5


def test_switching_back_to_pass_serves_again(proxy: TcpProxy) -> None:
    for mode in (Mode.HTTP_503, Mode.RESET, Mode.PASS):
        proxy.set_mode(mode)
    assert _get(proxy)[:2] == (200, b"GET /x 0")


def test_dead_upstream_resets_the_client() -> None:
    with TcpProxy(closed_port()) as proxy, socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(1)
        assert proxy.stats.upstream_refused == 1


def test_connections_are_bounded(upstream: int) -> None:
    with TcpProxy(upstream, max_connections=2) as proxy:
        proxy.blackhole()
        held = [socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0) for _ in range(2)]
        try:
            for s in held:
                s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            _wait_for(lambda: proxy.open_connections == 2)
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0) as third:
                assert third.recv(1) == b""  # closed at once: over the limit
            assert proxy.stats.rejected == 1
        finally:
            for s in held:
                s.close()


def test_stop_closes_every_connection_and_joins_its_thread(upstream: int) -> None:
    proxy = TcpProxy(upstream).start()
    proxy.blackhole()
    thread = proxy._thread
    assert thread is not None
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        _wait_for(lambda: proxy.open_connections == 1)
        began = time.monotonic()
        proxy.stop()
        with contextlib.suppress(ConnectionResetError):  # aborted: an RST is a close too
            assert s.recv(1) == b""
        assert time.monotonic() - began < 2.0
    assert not thread.is_alive()
    assert proxy.open_connections == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0).close()


def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        TcpProxy(80, upstream_host="10.0.0.1")


def _wait_for(condition: object, timeout: float = 2.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
