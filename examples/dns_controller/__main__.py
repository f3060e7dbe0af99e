"""``python -m examples.dns_controller``: BIND, Route 53 (moto), two backends and a controller.

Prints the ``dig`` command to watch, then every change: a backend going down or up, the
controller's write to each DNS provider, and what BIND and Route 53 answer afterwards.
``--kill-after N`` kills backend a N seconds after the record is published, brings it back
``--down-for`` seconds after the record moved, and shows both moves.  Type ``a`` or ``b``
and Enter to kill (or restart) a backend by hand; Ctrl-C stops everything.

Exit status: 0 stopped by Ctrl-C, 1 a step of the scenario missed its deadline, 2 a local
server could not start (BIND or moto missing: run .ci/install).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from failover.cli.arguments import seconds_between
from failover.testing.servers import ServerError

from .demo import Demo, read_commands
from .stack import RECORD, DemoStack, Settings
from .watch import EventPrinter, Terminal

PROG = "python -m examples.dns_controller"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[1])
    parser.add_argument(
        "--kill-after",
        type=seconds_between(0, 3600),
        metavar="N",
        help="kill backend a N seconds after the record is published, then bring it back",
    )
    parser.add_argument(
        "--down-for",
        type=seconds_between(0, 3600),
        default=5.0,
        metavar="S",
        help="with --kill-after: seconds backend a stays down after the record moved (default 5)",
    )
    parser.add_argument(
        "--mode",
        choices=["failover", "multivalue"],
        default="failover",
        help="failover: the best healthy backend; multivalue: every healthy backend (default failover)",
    )
    parser.add_argument(
        "--interval", type=seconds_between(0.05, 60), default=1.0, help="seconds between probes (default 1)"
    )
    parser.add_argument(
        "--failback-after",
        type=seconds_between(0, 3600),
        default=3.0,
        metavar="S",
        help="failover mode: seconds a recovered backend must stay up before it takes the record back (default 3)",
    )
    return parser.parse_args(argv)


def banner(terminal: Terminal, stack: DemoStack) -> None:
    bind, moto, s = stack.bind, stack.moto, stack.settings
    if bind is None or moto is None:
        raise RuntimeError("banner needs a started DemoStack")
    terminal.show(f"\n{RECORD} A on BIND and Route 53, kept by a DnsController (mode {s.mode})")
    failback = f"; a recovered backend a takes the record back after {s.failback_after:g} s up"
    failback = failback if s.mode == "failover" else ""
    terminal.show(f"probes every {s.interval:g} s, 2 failures = down, 2 successes = up{failback}\n")
    for b in stack.backends.values():
        terminal.show(f"  backend {b.label}   {b.endpoint}/   pid {b.pid}   priority {b.priority}")
    terminal.show(f"  BIND        127.0.0.1 port {bind.port}, zone {bind.zone} (RFC 2136 updates signed with TSIG)")
    terminal.show(f"  Route 53    moto at {moto.endpoint}, hosted zone {stack.hosted_zone_id}")
    terminal.show(f"  config      {stack.config_path}  (what `failover dns-controller --config` reads)\n")
    terminal.show(f"watch:           dig @127.0.0.1 -p {bind.port} {RECORD.rstrip('.')} A")
    pids = ", ".join(f"kill -9 {b.pid} ({b.label})" for b in stack.backends.values())
    terminal.show(f"kill a backend:  {pids}; or type a or b and Enter (again to restart it)")
    terminal.show("stop:            Ctrl-C\n")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings(mode=args.mode, interval=args.interval, failback_after=args.failback_after)
    terminal = Terminal()
    terminal.show("starting BIND, moto (Route 53) and two HTTP backends on loopback...")
    try:
        stack = DemoStack(settings).start()
    except ServerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        labels = {b.address: f"backend {b.label} ({b.address})" for b in stack.backends.values()}
        banner(terminal, stack)
        with stack.controller([EventPrinter(terminal, labels)]):  # its own thread, until the block ends
            ok = Demo(stack, terminal, stop, read_commands(sys.stdin)).run(args.kill_after, args.down_for)
    finally:
        stack.close()
    terminal.show("stopped: controller, backends, BIND and moto")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
