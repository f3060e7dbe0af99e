"""Active health probes: small objects that answer "is this target up?" within a timeout.

A probe's ``check(timeout)`` returns when the target is healthy and raises when it is
not; `failover.health.checker.HealthChecker` turns any exception into a failed probe and uses
its ``str`` as the reason, so messages here name only hosts, ports, paths and status
codes, never credentials or query strings.

`TcpProbe` and `HttpProbe` enforce their timeout themselves, name resolution included:
the motivating outage (us-east-1, Oct 2025) began as a DNS failure, and a resolver that
hangs must not hang the probe.  `ProviderProbe` and `CallableProbe` run foreign code
and can only pass the timeout on (as an argument, and as the attempt deadline the
checker sets); that code must honour it.  The checker also marks a
probe failed when it returns after its timeout, but it cannot interrupt one.
"""

from __future__ import annotations

import http.client
import inspect
import ipaddress
import math
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, runtime_checkable

from failover.errors import ConfigError, Timeout, Unavailable

# Enough to find a marker in a status page; a probe must never download a large body.
MAX_BODY_BYTES = 64 * 1024

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]


@runtime_checkable
class Probe(Protocol):
    def check(self, timeout: float) -> None:
        """Return if healthy; raise (any exception) if not, within ``timeout`` seconds."""
        ...


def validate_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigError(f"probe timeout must be a number >= 0, got {timeout!r}")
    if not math.isfinite(timeout):
        raise ConfigError("probe timeout must be finite")
    return float(timeout)


def _timeout_passing(fn: Callable[..., object]) -> Callable[[float], object]:
    """Call ``fn(timeout)`` if it takes an argument, else ``fn()``: plain functions welcome."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: assume the contract
        return fn
    try:
        sig.bind(1.0)
        return fn
    except TypeError:
        pass
    try:
        sig.bind()
    except TypeError:
        raise ConfigError(f"{_name(fn)} must take no argument or a single timeout argument") from None
    return lambda _timeout: fn()


def _name(obj: object) -> str:
    # Never repr(): a provider's repr may include an endpoint with credentials.
    return getattr(obj, "__qualname__", None) or type(obj).__qualname__


class CallableProbe:
    """Wraps ``fn(timeout)`` or ``fn()``; raising or returning ``False`` means unhealthy.

    The function must itself give up within the timeout (pass it to its client).
    """

    __slots__ = ("_call", "name")

    def __init__(self, fn: Callable[..., object], *, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"CallableProbe needs a callable, got {type(fn).__name__}")
        self._call = _timeout_passing(fn)
        self.name = name or _name(fn)

    def check(self, timeout: float) -> None:
        if self._call(validate_timeout(timeout)) is False:
            raise Unavailable(f"{self.name} returned False")

    def __repr__(self) -> str:
        return f"CallableProbe({self.name})"


class ProviderProbe:
    """Calls the provider's own cheap ``probe(timeout)`` (or ``probe()``), e.g. a bucket HEAD.

    The provider must honour the timeout: as an argument, or via the attempt deadline
    (`failover.deadline.current_deadline`) that `HealthChecker` sets around each probe.
    `ProviderProbe` cannot interrupt it.
    """

    __slots__ = ("_call", "name")

    def __init__(self, provider: object) -> None:
        method = getattr(provider, "probe", None)
        if not callable(method):
            raise ConfigError(f"provider {type(provider).__qualname__} has no probe() method")
        self._call = _timeout_passing(method)
        self.name = type(provider).__qualname__

    def check(self, timeout: float) -> None:
        if self._call(validate_timeout(timeout)) is False:
            raise Unavailable(f"{self.name}.probe() returned False")

    def __repr__(self) -> str:
        return f"ProviderProbe({self.name})"


# ---------------------------------------------------------------- network helpers


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Timeout(f"{what}: timed out")
    return left


def _resolve(host: str, port: int, deadline: float, what: str) -> Sequence[AddrInfo]:
    """getaddrinfo bounded by the deadline (it ignores socket timeouts by itself)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address resolves instantly, no thread needed
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    result: list[Sequence[AddrInfo]] = []
    error: list[OSError] = []
    done = threading.Event()

    def resolve() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            error.append(exc)
        finally:
            done.set()

    # A daemon thread we may abandon: a hung resolver then costs one idle thread until
    # the system resolver gives up, instead of stalling every check behind this one.
    threading.Thread(target=resolve, name=f"failover-resolve-{host}", daemon=True).start()
    if not done.wait(_remaining(deadline, what)):
        raise Timeout(f"{what}: name resolution timed out")
    if error:
        raise Unavailable(f"{what}: name resolution failed: {error[0].strerror or error[0]}") from error[0]
    return result[0]


def _connect(host: str, port: int, deadline: float, what: str) -> socket.socket:
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in _resolve(host, port, deadline, what):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_remaining(deadline, what))
            sock.connect(sockaddr)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise Timeout(f"{what}: connect timed out") from exc
        except OSError as exc:  # refused on ::1 may still succeed on 127.0.0.1
            sock.close()
            last = exc
        except BaseException:
            sock.close()
            raise
    detail = (last.strerror or str(last)) if last else "no address"
    raise Unavailable(f"{what}: connect failed: {detail}") from last


def _validate_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"port must be an int in 1..65535, got {port!r}")
    return port


def _validate_host(host: str) -> str:
    if not isinstance(host, str) or not host or any(c.isspace() or c in "/@" for c in host):
        raise ConfigError(f"invalid host {host!r}")
    return host


class TcpProbe:
    """Healthy when a TCP connection to ``host:port`` opens within the timeout."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = _validate_host(host)
        self.port = _validate_port(port)

    def check(self, timeout: float) -> None:
        what = f"tcp {self.host}:{self.port}"
        deadline = time.monotonic() + validate_timeout(timeout)
        _connect(self.host, self.port, deadline, what).close()

    def __repr__(self) -> str:
        return f"TcpProbe({self.host!r}, {self.port})"


class HttpProbe:
    """Healthy when a GET answers a status in ``expect_status`` (and ``body_contains``).

    Redirects are not followed: a 3xx proves the endpoint answers, and following one
    would probe somewhere else.  Environment proxies are not used either: a probe must
    see this endpoint, and a broken proxy would mark every target down at once.
    Built on ``http.client`` (what ``urllib.request`` uses underneath) because the
    probe needs the socket to bound the whole exchange by one deadline.
    """

    __slots__ = ("_body", "_display", "_host", "_https", "_port", "_request_path", "_ssl", "expect_status")

    def __init__(
        self,
        url: str,
        *,
        expect_status: Collection[int] = range(200, 400),
        body_contains: str | bytes | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise ConfigError(f"url must be a str, got {type(url).__name__}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ConfigError(f"probe url must be http or https, got scheme {parts.scheme!r}")
        if parts.username is not None or parts.password is not None:
            # The message must not echo the url: it holds the credentials.
            raise ConfigError("probe url must not contain credentials")
        if not parts.hostname:
            raise ConfigError("probe url has no host")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError("probe url has an invalid port") from None
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = _validate_port(port if port is not None else (443 if self._https else 80))
        path = parts.path or "/"
        self._request_path = f"{path}?{parts.query}" if parts.query else path
        # Query strings often carry tokens: messages show scheme, host, port and path only.
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._display = f"{parts.scheme}://{host}:{self._port}{path}"
        statuses = frozenset(expect_status)
        if not statuses or not all(
            isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses
        ):
            raise ConfigError("expect_status must be a non-empty collection of HTTP status codes")
        self.expect_status = statuses
        if isinstance(body_contains, str):
            body_contains = body_contains.encode("utf-8")
        if body_contains is not None and not (isinstance(body_contains, bytes) and body_contains):
            raise ConfigError("body_contains must be a non-empty str or bytes")
        self._body = body_contains
        self._ssl = (ssl_context or ssl.create_default_context()) if self._https else None

    def check(self, timeout: float) -> None:
        what = f"GET {self._display}"
        deadline = time.monotonic() + validate_timeout(timeout)
        sock = _connect(self._host, self._port, deadline, what)
        conn: http.client.HTTPConnection | None = None
        try:
            if self._ssl is not None:
                sock.settimeout(_remaining(deadline, what))
                sock = self._ssl.wrap_socket(sock, server_hostname=self._host)
                conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self._host, self._port)
            conn.sock = sock  # already connected within the deadline; http.client won't reconnect
            sock.settimeout(_remaining(deadline, what))
            conn.request("GET", self._request_path, headers={"Connection": "close"})
            response = conn.getresponse()
            if response.status not in self.expect_status:
                raise Unavailable(f"{what}: HTTP {response.status}")
            if self._body is not None:
                self._find_body(response, sock, deadline, what)
            _remaining(deadline, what)  # an answer that came late is still a failure
        except (Timeout, Unavailable):
            raise
        except TimeoutError as exc:
            raise Timeout(f"{what}: timed out") from exc
        except ssl.SSLError as exc:
            raise Unavailable(f"{what}: TLS failed: {exc.reason or type(exc).__name__}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        finally:
            if conn is not None:
                conn.close()
            sock.close()

    def _find_body(
        self, response: http.client.HTTPResponse, sock: socket.socket, deadline: float, what: str
    ) -> None:
        assert self._body is not None
        seen = b""
        while len(seen) < MAX_BODY_BYTES:
            sock.settimeout(_remaining(deadline, what))  # each read gets only what is left
            chunk = response.read1(MAX_BODY_BYTES - len(seen))
            if not chunk:
                break
            seen += chunk
            if self._body in seen:
                return
        raise Unavailable(f"{what}: body lacks the expected text")

    def __repr__(self) -> str:
        return f"HttpProbe({self._display!r})"


__all__ = ["MAX_BODY_BYTES", "CallableProbe", "HttpProbe", "Probe", "ProviderProbe", "TcpProbe", "validate_timeout"]
