"""``python -m examples.standby_compute``: start moto, run the scenario, print the timeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from failover.errors import ConfigError, FailoverError
from failover.testing.servers import LocalServer, ServerError, moto

from . import timeline
from .demo import DemoConfig, Outcome, Step, run_demo

_DEFAULTS = DemoConfig()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m examples.standby_compute",
        description="A warm standby over two EC2 regions on a local moto: us-east-1 stops answering, "
        "us-west-2 takes the instances, and gives them back once us-east-1 has stayed up.",
    )
    p.add_argument("--instances", type=int, default=_DEFAULTS.instances, help="instances of the web role (default 3)")
    p.add_argument(
        "--standby", type=int, default=_DEFAULTS.standby, help="warm instances always running in us-west-2 (default 1)"
    )
    p.add_argument(
        "--interval", type=float, default=_DEFAULTS.interval, help="simulated seconds between passes (default 10)"
    )
    p.add_argument(
        "--failback-after",
        type=float,
        default=_DEFAULTS.failback_after,
        help="simulated seconds us-east-1 must stay up before capacity moves back (default 60)",
    )
    p.add_argument(
        "--outage",
        type=float,
        default=_DEFAULTS.outage,
        help="simulated seconds us-east-1 does not answer (default 30)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=_DEFAULTS.timeout,
        help="real seconds the EC2 client waits on a region that does not answer (default 0.5)",
    )
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the demo; 0 when the standby took over and gave back, 1 when not, 2 on bad input."""
    out = out if out is not None else sys.stdout
    args = parser().parse_args(argv)
    try:
        config = DemoConfig(
            instances=args.instances,
            standby=args.standby,
            interval=args.interval,
            failback_after=args.failback_after,
            outage=args.outage,
            timeout=args.timeout,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        server = moto("moto-standby-demo")
    except ServerError as exc:  # moto is not installed
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
        outcome = show_demo(config, server, out)
    except ServerError as exc:
        print(f"error: could not start moto: {exc}", file=sys.stderr)
        return 2
    except FailoverError as exc:  # a pass the pool could not complete (a refused image, say)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.close()
    return 0 if outcome.ok else 1


def show_demo(
    config: DemoConfig, server: LocalServer, out: TextIO, *, on_step: Callable[[Step], None] | None = None
) -> Outcome:
    """Run the demo on a started moto, printing each pass as it ends (then ``on_step``)."""
    print(timeline.header(config, server.endpoint), file=out, flush=True)

    def show(step: Step) -> None:
        print(timeline.row(step), file=out, flush=True)
        if on_step is not None:
            on_step(step)

    outcome = run_demo(config, server, on_step=show)
    print(timeline.summary(outcome), file=out, flush=True)
    return outcome


__all__ = ["main", "parser", "show_demo"]
