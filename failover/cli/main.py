"""The ``failover`` command line.

Subcommands: ``drill`` (alias ``demo``: a game day on in-memory providers), ``status``
and ``check`` (probe every target of a set-up file), ``check-config`` (validate one),
``reconcile`` (compare and repair the objects of several targets), ``repair`` (catch up
what the journal says is owed), ``force-open``, ``force-closed`` and ``release`` (a
target's breaker across a fleet), ``dashboard`` (a live web page of every target),
``dns-controller`` (keep a DNS record on healthy endpoints).  Each subcommand is one
``add`` function in `SUBCOMMANDS` that builds its parser and sets ``run`` to the
function that carries it out; heavy imports wait until a subcommand runs.

Exit codes: 0 ok, 1 the command ran but failed (a drill missed its success
criteria, ``check`` found a target down), 2 usage error (bad arguments, bad configuration), 3 ``dns-controller
--once`` is a standby (another controller holds the lock; nothing written),
130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from failover import __version__
from failover.cli.arguments import output_path
from failover.cli.check_config import add_check_config
from failover.cli.dashboard import add_dashboard
from failover.cli.demo import MAX_OPS as _MAX_OPS
from failover.cli.demo import REALTIME_DURATION, SIMULATED_DURATION, WRITES, DrillConfig
from failover.cli.dns_controller import add_dns_controller
from failover.cli.maintenance import add_maintenance
from failover.cli.output import add_json_option, console_for
from failover.cli.repair import add_repair
from failover.cli.status import add_check, add_status
from failover.errors import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

if TYPE_CHECKING:
    # The type `add_subparsers` returns is private to argparse; it exists for type checkers only.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="failover",
        description="Circuit breakers and health-aware routing across clouds.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits by itself: 0 after --help / --version, 2 after a usage error.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ConfigError as exc:
        # Settings argparse cannot check alone (ranges, combinations) are validated by
        # the objects they configure; they are still usage errors for the caller.
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{args.parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# ---------------------------------------------------------------- demo


def _add_demo(commands: Subparsers) -> None:
    from failover.cli.drill_scenarios import SCENARIOS, help_text

    parser = commands.add_parser(
        "drill",
        aliases=["demo"],
        help="run a game day: outages, failover and failback, and a check that no write was lost",
        description=(
            "Game day on three targets: steady reads and replicated writes, outages (the scenarios, one "
            "after another), failover, recovery, failback after the hysteresis; every written key is read "
            "back and, at the end, checked on every target. In memory on a simulated clock by default "
            "(seconds, no server); --real runs on the local servers (moto S3, Azurite, fake-gcs-server), "
            "which the drill starts and stops itself."
        ),
        epilog=(
            f"scenarios: {help_text()}. "
            "Limits: --duration 5 to 3600 s and at least 5 s per scenario; --rate 1 to 10000; "
            f"at most {_MAX_OPS} calls in all. "
            "Exit status: 0 passed; 1 a client saw an error, a write was lost, or failover or failback "
            "did not happen; 2 bad options or something missing (a server, the report extra)."
        ),
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help=f"drill length (default {SIMULATED_DURATION:g} simulated, {REALTIME_DURATION:g} with --realtime, --real)",
    )
    parser.add_argument("--rate", type=_positive_int, metavar="N", help="client calls per second (50)")
    parser.add_argument(
        "--ops",
        type=_positive_int,
        metavar="N",
        help="total client calls, spread over --duration (overrides --rate); with --real or --realtime "
        "and no --duration, the drill lasts N / --rate seconds",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed for traffic, chaos and breaker jitter (7)")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME[,NAME...]",
        help=f"what fails, one episode each, in order; repeat or separate with commas: {', '.join(SCENARIOS)} "
        "(default primary-killed)",
    )
    parser.add_argument(
        "--writes",
        choices=WRITES,
        help="replication of writes: all targets, a quorum of 2, or the primary then background "
        "(default quorum; all when a scenario takes two targets down, as a quorum of 2 cannot be met then)",
    )
    parser.add_argument("--realtime", action="store_true", help="pace the in-memory drill on the wall clock")
    parser.add_argument(
        "--real", action="store_true", help="run on the local servers with each cloud's SDK (starts and stops them)"
    )
    parser.add_argument(
        "--report",
        type=output_path,
        metavar="PATH",
        help="write a self-contained HTML report (needs the report extra)",
    )
    add_json_option(parser, "the summary")
    parser.set_defaults(run=_run_demo, parser=parser)


def _run_demo(args: argparse.Namespace) -> int:
    from failover.cli.drill_run import game_day
    from failover.cli.drill_scenarios import default_writes, parse_scenarios

    scenarios = parse_scenarios(args.scenario)
    writes = args.writes or default_writes(scenarios)
    console = console_for(args.json)
    if writes == "quorum" and default_writes(scenarios) != "quorum":
        console.print(
            "note: --writes quorum with a scenario that leaves one target up: a quorum of 2 cannot be met "
            "then, so those writes are refused and count as client errors (--writes all or primary keeps writing)"
        )
    config = DrillConfig(
        duration=_drill_duration(args),
        rate=args.rate or 50,
        ops=args.ops,
        seed=args.seed,
        scenarios=scenarios,
        writes=writes,
        realtime=args.realtime,
        real=args.real,
        objects=50 if args.real else 200,  # seeded through each SDK, one call per object
    )
    return game_day(config, console, args.json, args.report)


def _drill_duration(args: argparse.Namespace) -> float:
    """--duration, or the default; on the wall clock, --ops without --duration lasts
    ops / rate seconds, so that the calls keep the pace the scenarios' times assume
    (a client that falls behind its schedule would see the outage at the wrong time)."""
    if args.duration is not None:
        return float(args.duration)
    wall_clock = bool(args.realtime or args.real)
    if wall_clock and args.ops is not None:
        rate: int = args.rate or 50
        return max(REALTIME_DURATION, int(args.ops) / rate)
    return REALTIME_DURATION if wall_clock else SIMULATED_DURATION


# ---------------------------------------------------------------- reconcile


def _add_reconcile(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="compare the objects of several targets and repair divergence (dry run by default)",
        description=(
            "List every target, compare versions and checksums key by key, and report what "
            "differs. Nothing is written unless --repair is given. The targets come from a "
            "set-up file (--config FILE: its storage targets and its journal) or from your code: "
            "--targets MODULE:NAME names a list of Target objects, a FailoverStorage, or a "
            "function returning either."
        ),
        epilog="exit status: 0 the targets agree (or were repaired), 1 divergence left, 2 usage error",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=_existing_file, metavar="FILE", help="a set-up file with [storage] targets")
    source.add_argument("--targets", metavar="MODULE:NAME", help="where to find the targets in your code")
    parser.add_argument("--journal", type=_existing_file, metavar="PATH", help="repair journal: its tombstones")
    parser.add_argument("--prefix", default="", help="only keys starting with this")
    parser.add_argument("--repair", action="store_true", help="write the repairs (default: report only)")
    parser.add_argument(
        "--verify", action="store_true", help="read every copy back and check its bytes against its checksum"
    )
    parser.add_argument("--checkpoint", type=output_path, metavar="PATH", help="resume file for long runs")
    add_json_option(parser, "the report")
    parser.set_defaults(run=_run_reconcile, parser=parser)


def _run_reconcile(args: argparse.Namespace) -> int:
    from failover.cli.reconcile import run_reconcile

    return run_reconcile(args, console_for(args.json))


SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _add_demo,
    add_status,
    add_check,
    add_check_config,
    _add_reconcile,
    add_repair,
    add_maintenance,
    add_dns_controller,
    add_dashboard,
)


# ---------------------------------------------------------------- helpers


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file")
    return path


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
