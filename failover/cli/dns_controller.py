"""``failover dns-controller --config FILE``: run a `DnsController` until interrupted.

Exit codes: 0 ok; 1 a provider was not updated (``--once``); 2 a bad config file (one
line on stderr naming the field); 3 ``--once`` on a standby: another controller holds
the leader lock, so this one wrote nothing.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.errors import ConfigError
from failover.events import LoggingListener

if TYPE_CHECKING:
    from failover.clock import Clock
    from failover.controllers.dns_controller import DnsController, Published
    from failover.events import Listener
    from failover.telemetry.exposition import Exporter
    from failover.telemetry.metrics import PrometheusMetrics

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_NOT_UPDATED, EXIT_CONFIG, EXIT_STANDBY = 0, 1, 2, 3


def add_dns_controller(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "dns-controller",
        help="keep a DNS record pointing at healthy endpoints, on one or more DNS providers",
        description=(
            "Probe the endpoints of one record and publish the healthy answer to every DNS "
            "provider in the config (Route 53, Azure DNS, Cloud DNS, RFC 2136 servers such as "
            "BIND). See failover.config.dns for the file format."
        ),
        epilog="exit status: 0 ok, 1 a provider was not updated, 2 bad config, 3 standby (--once)",
    )
    parser.add_argument("--config", type=Path, required=True, help="TOML file: record, endpoints, providers")
    parser.add_argument(
        "--once",
        action="store_true",
        help="probe until the answer is decided, publish it if leader, and exit (for cron or a check)",
    )
    parser.add_argument("--passes", type=int, default=0, help="stop after this many passes (0: run until stopped)")
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve Prometheus metrics on http://127.0.0.1:N/metrics (needs the metrics extra)",
    )
    parser.set_defaults(run=run_dns_controller, parser=parser)


def run_dns_controller(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    from failover.config.dns import load  # pydantic and the DNS SDKs load only when needed

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {} if clock is None else {"clock": clock}
    port: int | None = getattr(args, "metrics_port", None)
    try:
        metrics = _metrics() if port is not None else None
        listeners: list[Listener] = [LoggingListener(), *([metrics] if metrics is not None else [])]
        controller = load(args.config).build(listeners=listeners, **overrides)
    except ConfigError as exc:
        print(f"failover dns-controller: error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    exporter = None
    if metrics is not None and port is not None:
        try:
            exporter = _exporter(metrics, port)
        except ConfigError as exc:
            controller.stop()
            print(f"failover dns-controller: error: --metrics-port: {exc.message}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        return _run(controller, args)
    finally:
        if exporter is not None:
            exporter.stop()


def _metrics() -> PrometheusMetrics:
    """The controller's metrics instrument; a `ConfigError` naming the extra without the client."""
    from failover.telemetry.metrics import PrometheusMetrics

    return PrometheusMetrics(facade="dns-controller")


def _exporter(metrics: PrometheusMetrics, port: int) -> Exporter:
    from failover.telemetry.exposition import serve

    return serve(metrics, port)


def _run(controller: DnsController, args: argparse.Namespace) -> int:
    if args.once:
        try:
            return _report(controller, controller.run_until_decided())
        finally:
            controller.stop()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        controller.serve(stop, args.passes)
    finally:
        controller.stop()
    return EXIT_OK


def _report(controller: DnsController, report: Published) -> int:
    record = f"{controller.name} {controller.type}"
    if not report.leader:
        print(f"{record}: standby, another controller holds the leader lock; nothing written")
        return EXIT_STANDBY
    answer = ", ".join(report.values) or "(nothing: no endpoint has been healthy)"
    print(f"{record} -> {answer} (leader)")
    for name in report.written:
        print(f"  {name}: updated")
    for name, why in report.failed.items():
        print(f"  {name}: not updated ({why})")
    return EXIT_NOT_UPDATED if report.failed else EXIT_OK


__all__ = ["add_dns_controller", "run_dns_controller"]
