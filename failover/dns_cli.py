"""``failover dns-controller --config FILE``: run a `DnsFailover` until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from failover.events import LoggingListener

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_dns_controller(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "dns-controller",
        help="keep a DNS record pointing at healthy endpoints, on one or more DNS providers",
        description=(
            "Probe the endpoints of one record and publish the healthy answer to every DNS "
            "provider in the config (Route 53, RFC 2136 servers such as BIND). See "
            "failover.dns_config for the file format."
        ),
    )
    parser.add_argument("--config", type=Path, required=True, help="TOML file: record, endpoints, providers")
    parser.add_argument("--once", action="store_true", help="run one pass and exit (for cron or a check)")
    parser.add_argument("--passes", type=int, default=0, help="stop after this many passes (0: run until stopped)")
    parser.set_defaults(run=run_dns_controller, parser=parser)


def run_dns_controller(args: argparse.Namespace) -> int:
    from failover.dns_config import load  # pydantic and the DNS SDKs load only when needed

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    controller = load(args.config).build(listeners=[LoggingListener()])
    if args.once:
        report = controller.run_once()
        print(f"{controller.name} {controller.type} -> {', '.join(report.values) or '(nothing yet)'}")
        for name, why in report.failed.items():
            print(f"  {name}: not updated ({why})")
        return 0 if not report.failed else 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    pause = min(c.interval for c in controller.checker.checks) / 2
    passes = 0
    try:
        while not stop.is_set() and (args.passes <= 0 or passes < args.passes):
            controller.run_once()
            passes += 1
            stop.wait(pause)
    finally:
        controller.stop()
    return 0
