"""Telemetry: Prometheus metrics and OpenTelemetry traces, each attached to a facade as one
*instrument* (``FailoverStorage(targets, instruments=[...])``, see
`failover.layers.check_instruments`).  `failover.telemetry.metrics` counts attempts, failovers,
hedges and retries and reads breaker, health and replication backlog state when scraped;
`failover.telemetry.exposition` serves them on ``/metrics`` (a WSGI or ASGI app, or a standalone
exporter).  Each submodule needs its extra (``metrics``, ``tracing``) and imports its client
library itself, so importing this package, like ``import failover``, loads nothing but the
standard library.
"""

__all__: list[str] = []
