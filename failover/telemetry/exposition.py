"""``/metrics`` for a `PrometheusMetrics` instrument: a WSGI or an ASGI app to mount in the
application's own server, or a standalone exporter on a port of its own.

The apps are prometheus_client's (``make_wsgi_app``, ``make_asgi_app``: text or OpenMetrics
as the scraper asks, gzip, ``?name[]=`` filters) bound to the instrument's registry.  The
exporter serves the same WSGI app from a thread, as ``prometheus_client.start_http_server``
does, but hands back an `Exporter` that says which port it listens on and can be stopped,
whatever version of the client is installed.
"""

from __future__ import annotations

import socket
import threading
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from failover.errors import ConfigError
from failover.telemetry.metrics import PrometheusMetrics

# Imported after failover.telemetry.metrics, which raises the error naming the extra when
# the client is missing (the ``try`` keeps an import sorter from moving it first).
try:
    from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app
except ImportError:  # pragma: no cover - unreachable: the metrics import above failed first
    raise

Source = PrometheusMetrics | CollectorRegistry


def _registry(source: object) -> CollectorRegistry:
    if isinstance(source, PrometheusMetrics):
        return source.registry
    if isinstance(source, CollectorRegistry):
        return source
    raise ConfigError(f"metrics must be a PrometheusMetrics or a CollectorRegistry, not {source!r}")


def wsgi_app(metrics: Source) -> Any:
    """A WSGI app answering every request with the scrape of ``metrics``' registry."""
    return make_wsgi_app(_registry(metrics))


def asgi_app(metrics: Source) -> Any:
    """An ASGI app answering every HTTP request with the scrape of ``metrics``' registry."""
    return make_asgi_app(_registry(metrics))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in flight never holds up the process's exit


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes come every few seconds: a line each would drown the application's log."""


class Exporter:
    """A running ``/metrics`` server; `stop` (or leaving a ``with`` block) closes its port."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def address(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port listened on: the one chosen by the system when 0 was asked for."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def stop(self, timeout: float = 5.0) -> None:
        self._server.shutdown()
        self._server.server_close()  # frees the port at once, for a restart on the same one
        self._thread.join(timeout)

    def __enter__(self) -> Exporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Exporter({self.url})"


def serve(metrics: Source, port: int, addr: str = "127.0.0.1") -> Exporter:
    """Serve ``metrics`` on ``addr:port`` from a daemon thread (port 0: any free port).

    The default address is the loopback one: a scraper on another host needs ``addr`` set
    to an address it can reach (``0.0.0.0`` for every interface).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer from 0 to 65535, not {port!r}")
    if not isinstance(addr, str) or not addr:
        raise ConfigError(f"addr must be a host address, not {addr!r}")
    app = wsgi_app(metrics)
    server_class = _Server6 if ":" in addr else _Server
    try:
        server = make_server(addr, port, app, server_class, handler_class=_Quiet)
    except OSError as exc:
        raise ConfigError(f"port {port} on {addr}: cannot listen ({exc.strerror or exc})") from exc
    thread = threading.Thread(target=server.serve_forever, name=f"failover-metrics :{port}", daemon=True)
    thread.start()
    return Exporter(server, thread)


__all__ = ["Exporter", "Source", "asgi_app", "serve", "wsgi_app"]
