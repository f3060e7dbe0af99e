"""Probes against real loopback servers started here; nothing sleeps."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from failover.errors import ConfigError, Timeout, Unavailable
from failover.health.probes import CallableProbe, HttpProbe, Probe, ProviderProbe, TcpProbe


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {
        "/ok": (200, b"fine"),
        "/down": (503, b"maintenance"),
        "/status": (200, b'{"status": "green", "region": "eu"}'),
        "/moved": (302, b""),
        "/missing": (404, b"nope"),
    }

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        status, body = self.routes.get(path, (404, b""))
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """Listens but never accepts: connects succeed (backlog), requests never get answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def test_all_probes_satisfy_the_protocol(http_base: str) -> None:
    for probe in (TcpProbe("127.0.0.1", 1), HttpProbe(http_base), CallableProbe(lambda: None)):
        assert isinstance(probe, Probe)


# ---------------------------------------------------------------- TCP


def test_tcp_probe_ok_on_listening_socket(listener: socket.socket) -> None:
    TcpProbe("127.0.0.1", listener.getsockname()[1]).check(1.0)


def test_tcp_probe_resolves_hostnames(listener: socket.socket) -> None:
    # localhost may resolve to ::1 first; the probe must fall through to 127.0.0.1.
    TcpProbe("localhost", listener.getsockname()[1]).check(1.0)


def test_tcp_probe_closed_port_fails_fast(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable, match=rf"tcp 127\.0\.0\.1:{closed_port}: connect failed"):
        TcpProbe("127.0.0.1", closed_port).check(5.0)
    assert time.monotonic() - started < 1.0


def test_tcp_probe_zero_timeout_is_a_timeout(listener: socket.socket) -> None:
    with pytest.raises(Timeout):
        TcpProbe("127.0.0.1", listener.getsockname()[1]).check(0)


@pytest.mark.parametrize("port", [0, -1, 65536, "80", True, 1.5])
def test_tcp_probe_rejects_bad_ports(port: object) -> None:
    with pytest.raises(ConfigError):
        TcpProbe("127.0.0.1", port)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["", "a b", "user@host", None])
def test_tcp_probe_rejects_bad_hosts(host: object) -> None:
    with pytest.raises(ConfigError):
        TcpProbe(host, 80)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "1", None])
def test_probes_reject_bad_timeouts(timeout: object, listener: socket.socket) -> None:
    for probe in (TcpProbe("127.0.0.1", listener.getsockname()[1]), CallableProbe(lambda: None)):
        with pytest.raises(ConfigError):
            probe.check(timeout)  # type: ignore[arg-type]


# ---------------------------------------------------------------- HTTP


def test_http_probe_200_ok(http_base: str) -> None:
    HttpProbe(f"{http_base}/ok").check(2.0)


def test_http_probe_503_fails_with_status_in_reason(http_base: str) -> None:
    with pytest.raises(Unavailable, match="HTTP 503"):
        HttpProbe(f"{http_base}/down").check(2.0)


def test_http_probe_custom_expected_status(http_base: str) -> None:
    HttpProbe(f"{http_base}/down", expect_status={503}).check(2.0)
    with pytest.raises(Unavailable, match="HTTP 200"):
        HttpProbe(f"{http_base}/ok", expect_status=[204]).check(2.0)


def test_http_probe_does_not_follow_redirects(http_base: str) -> None:
    HttpProbe(f"{http_base}/moved").check(2.0)  # 302 is in the default 200..399
    with pytest.raises(Unavailable, match="HTTP 302"):
        HttpProbe(f"{http_base}/moved", expect_status=range(200, 300)).check(2.0)


def test_http_probe_body_contains(http_base: str) -> None:
    HttpProbe(f"{http_base}/status", body_contains='"status": "green"').check(2.0)
    HttpProbe(f"{http_base}/status", body_contains=b"region").check(2.0)
    with pytest.raises(Unavailable, match="body lacks"):
        HttpProbe(f"{http_base}/status", body_contains="red").check(2.0)


def test_http_probe_reason_hides_query_string(http_base: str) -> None:
    with pytest.raises(Unavailable) as info:
        HttpProbe(f"{http_base}/down?token=s3cr3t").check(2.0)
    assert "s3cr3t" not in str(info.value)
    assert "/down" in str(info.value)
    assert "s3cr3t" not in repr(HttpProbe(f"{http_base}/ok?token=s3cr3t"))


def test_http_probe_closed_port_fails_fast(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable, match="connect failed"):
        HttpProbe(f"http://127.0.0.1:{closed_port}/").check(5.0)
    assert time.monotonic() - started < 1.0


def test_http_probe_silent_server_times_out_within_timeout(listener: socket.socket) -> None:
    started = time.monotonic()
    with pytest.raises(Timeout):
        HttpProbe(f"http://127.0.0.1:{listener.getsockname()[1]}/").check(0.2)
    assert time.monotonic() - started < 1.0


def test_https_probe_against_plain_http_fails(http_base: str) -> None:
    with pytest.raises(Unavailable, match="TLS failed"):
        HttpProbe(http_base.replace("http://", "https://") + "/ok").check(2.0)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "127.0.0.1:80",
        "http:///path",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:abc/",
    ],
)
def test_http_probe_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        HttpProbe(url)


def test_http_probe_rejects_credentials_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        HttpProbe("https://admin:hunter2@example.invalid/health")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("kwargs", [{"expect_status": []}, {"expect_status": [99]}, {"body_contains": ""}])
def test_http_probe_rejects_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        HttpProbe("http://127.0.0.1/", **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- callables and providers


def test_callable_probe_passes_timeout_when_accepted() -> None:
    seen: list[float] = []
    CallableProbe(seen.append).check(1.5)
    CallableProbe(lambda timeout: seen.append(timeout)).check(0.5)
    assert seen == [1.5, 0.5]


def test_callable_probe_zero_arg_function_and_false_result() -> None:
    CallableProbe(lambda: True).check(1.0)
    CallableProbe(lambda: None).check(1.0)
    with pytest.raises(Unavailable, match="returned False"):
        CallableProbe(lambda: False, name="db-ping").check(1.0)


def test_callable_probe_propagates_errors() -> None:
    def boom() -> None:
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError):
        CallableProbe(boom).check(1.0)


def test_callable_probe_rejects_non_callables_and_bad_signatures() -> None:
    with pytest.raises(ConfigError):
        CallableProbe("not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        CallableProbe(lambda a, b: None)


class _Bucket:
    def __init__(self) -> None:
        self.timeouts: list[float] = []
        self.up = True

    def probe(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if not self.up:
            raise Unavailable("HEAD bucket: 503")


class _OldBucket:
    def probe(self) -> bool:
        return False


def test_provider_probe_calls_provider_probe_with_timeout() -> None:
    bucket = _Bucket()
    probe = ProviderProbe(bucket)
    probe.check(0.75)
    bucket.up = False
    with pytest.raises(Unavailable, match="503"):
        probe.check(0.75)
    assert bucket.timeouts == [0.75, 0.75]
    with pytest.raises(Unavailable, match=r"_OldBucket\.probe\(\) returned False"):
        ProviderProbe(_OldBucket()).check(1.0)


def test_provider_probe_requires_a_probe_method() -> None:
    with pytest.raises(ConfigError, match="has no probe"):
        ProviderProbe(object())
