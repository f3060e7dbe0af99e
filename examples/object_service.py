"""A tiny object service that stays up when its primary cloud goes down.

    python examples/object_service.py --port 8080          # in-memory clouds, chaos on demand
    curl -X PUT --data-binary @report.pdf localhost:8080/objects/reports/q3.pdf
    curl localhost:8080/objects/reports/q3.pdf
    curl -X POST localhost:8080/chaos/memory:us-east-1/down   # take the primary down
    curl localhost:8080/status
    curl localhost:8080/metrics                                # Prometheus: failovers, attempts...

Objects go through one `FailoverStorage` over three targets with replication, so a
write made during an outage reaches the recovered target later.  The targets are
in-memory clouds wrapped in `ChaosProvider`, so the failover can be tried without an
account; swap in `S3Store`, `BlobStore` and `GCSStore` for the real thing.

Every call is measured (`failover.telemetry.metrics`, served at ``/metrics``) and
traced (`failover.telemetry.tracing`: a span per call, an event per attempt, sent to
whatever OpenTelemetry tracer provider the process configures).  Needs the ``metrics``
and ``tracing`` extras.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from failover import ExecutionConfig, FailoverStorage, LoggingListener, ProbeConfig, Target, replication
from failover.errors import FailoverError, InvalidInput, NotFound
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.telemetry.metrics import PrometheusMetrics
from failover.telemetry.tracing import OpenTelemetryTracing

REGIONS = ("memory:us-east-1", "memory:eu-west-1", "memory:ap-south-1")


def build(
    journal: Path, registry: CollectorRegistry | None = None, tracer_provider: TracerProvider | None = None
) -> tuple[FailoverStorage, dict[str, ChaosProvider]]:
    clouds = {name: ChaosProvider(MemoryObjectStore(), seed=i) for i, name in enumerate(REGIONS)}
    metrics = PrometheusMetrics(registry or CollectorRegistry(), facade="objects")
    storage = FailoverStorage(
        [Target(name, cloud, priority=i) for i, (name, cloud) in enumerate(clouds.items())],
        writes=replication.Primary(journal=journal),
        execution=ExecutionConfig(attempt_timeout=1.0, deadline=5.0),
        health_checks=ProbeConfig(interval=1.0, timeout=0.5),
        failback_after=10.0,
        listeners=[LoggingListener()],
        instruments=[metrics, OpenTelemetryTracing(tracer_provider)],
    )
    return storage, clouds


def handler_for(storage: FailoverStorage, clouds: dict[str, ChaosProvider]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                registry = next(i.registry for i in storage.instruments if isinstance(i, PrometheusMetrics))
                return self._reply(HTTPStatus.OK, generate_latest(registry), CONTENT_TYPE_LATEST)
            if self.path == "/status":
                rows = [
                    {"target": t.name, "role": t.role, "breaker": t.breaker, "share": round(t.traffic_share, 3)}
                    for t in storage.status().targets
                ]
                return self._reply(HTTPStatus.OK, json.dumps(rows).encode(), "application/json")
            key = self._key()
            if key is not None:
                self._answer(lambda: storage.get(key))

        def do_PUT(self) -> None:
            key = self._key()
            if key is not None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer(lambda: (storage.put(key, body), b"stored\n")[1])

        def do_DELETE(self) -> None:
            key = self._key()
            if key is not None:
                self._answer(lambda: (storage.delete(key), b"deleted\n")[1])

        def do_POST(self) -> None:
            # /chaos/<target>/down or /chaos/<target>/heal: a game day from curl.
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "chaos" and parts[1] in clouds and parts[2] in ("down", "heal"):
                cloud = clouds[parts[1]]
                cloud.down() if parts[2] == "down" else cloud.heal()
                return self._reply(HTTPStatus.OK, f"{parts[1]} {parts[2]}\n".encode())
            self._reply(HTTPStatus.NOT_FOUND, b"unknown chaos target\n")

        def _key(self) -> str | None:
            if self.path.startswith("/objects/") and len(self.path) > len("/objects/"):
                return self.path[len("/objects/") :]
            self._reply(HTTPStatus.NOT_FOUND, b"use /objects/<key>, /status or /metrics\n")
            return None

        def _answer(self, action: object) -> None:
            try:
                body = action()  # type: ignore[operator]
            except NotFound:
                return self._reply(HTTPStatus.NOT_FOUND, b"no such object\n")
            except InvalidInput as exc:
                return self._reply(HTTPStatus.BAD_REQUEST, f"{exc.message}\n".encode())
            except FailoverError as exc:  # every cloud failed: say so, never a stack trace
                return self._reply(HTTPStatus.SERVICE_UNAVAILABLE, f"{exc.kind}\n".encode())
            self._reply(HTTPStatus.OK, body)

        def _reply(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        storage, clouds = build(Path(tmp) / "journal.sqlite")
        with storage, ThreadingHTTPServer((args.host, args.port), handler_for(storage, clouds)) as server:
            print(f"serving on http://{args.host}:{server.server_port} (Ctrl-C to stop)")
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
