"""``failover status`` and ``failover check``: probe every target of a set-up file once.

Both load the file (`failover.config.load`), adopt the breaker states the fleet shares
(when the file names a breaker store), probe every target of every facade at once,
each probe bounded by ``--timeout``, and report per target: its role, the probe's
verdict and latency, the breaker state, and the last error with its age.

``status`` prints the table (``--json``: one JSON document) and exits 0; ``check``
prints only what is down and exits 1 when any target is down, for cron jobs and CI.
A target is down when its probe fails or its breaker is open (here or, through the
shared store, anywhere in the fleet).  A bad file exits 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.cli.arguments import seconds_between
from failover.cli.output import STDOUT, add_json_option, console_for, write_json
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.config.setup import Setup
    from failover.facades.base import Facade
    from failover.health.checker import ProbeResult

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_DOWN, EXIT_CONFIG = 0, 1, 2
_DOWN_BREAKERS = frozenset({"open", "forced_open"})


@dataclass(frozen=True, slots=True)
class Row:
    """One target as the commands report it."""

    facade: str
    target: str
    role: str
    down: bool
    probe: str  # "ok", or why the probe failed
    probe_ms: float
    breaker: str
    last_error: str | None
    last_error_age: float | None
    operator: str | None = None  # why an operator drained or forced it, as they said


def add_status(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "status",
        help="probe every target of a set-up file once and show role, health, breaker and last error",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="exit status: 0 reported, 2 bad configuration",
    )
    _common(parser)
    parser.set_defaults(run=run_status, parser=parser)


def add_check(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "check",
        help="exit 1 if any target of a set-up file is down (probe failed or breaker open), for cron and CI",
        description="Probe every target once, as `failover status` does, and print only what is down.",
        epilog="exit status: 0 every target up, 1 some target down, 2 bad configuration",
    )
    _common(parser)
    parser.set_defaults(run=run_check, parser=parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="the TOML set-up file")
    timeout = seconds_between(0.01, 3600)
    parser.add_argument("--timeout", type=timeout, default=2.0, metavar="SECONDS", help="per probe (2)")
    add_json_option(parser, "every target's row")


def run_status(args: argparse.Namespace) -> int:
    rows = _probe_file(args)
    if rows is None:
        return EXIT_CONFIG
    if args.json is not None:
        write_json(args.json, _document(args.config, rows))
    if args.json != STDOUT:
        _table(rows, f"{args.config}: {sum(r.down for r in rows)} of {len(rows)} target(s) down")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    rows = _probe_file(args)
    if rows is None:
        return EXIT_CONFIG
    down = [r for r in rows if r.down]
    if args.json is not None:
        write_json(args.json, _document(args.config, rows))
    if args.json != STDOUT and down:
        _table(down, f"{args.config}: {len(down)} of {len(rows)} target(s) down")
    elif args.json != STDOUT:
        print(f"{args.config}: all {len(rows)} target(s) up")
    return EXIT_DOWN if down else EXIT_OK


def _probe_file(args: argparse.Namespace) -> list[Row] | None:
    from failover.config import load  # pydantic and the adapters load only now

    try:
        setup = load(args.config)
    except ConfigError as exc:
        print(f"{args.parser.prog}: error: {exc.message}", file=sys.stderr)
        return None
    try:
        return probe_setup(setup, args.timeout)
    finally:
        setup.close()


def probe_setup(setup: Setup, timeout: float) -> list[Row]:
    """Every target of every facade in ``setup``, probed once, in parallel."""
    jobs = [(kind, facade, target.name) for kind, facade in setup.facades.items() for target in facade.pool.targets]
    checkers = {kind: _checker(facade, timeout) for kind, facade in setup.facades.items()}
    for facade in setup.facades.values():
        if facade.pool.store_sync is not None:
            facade.pool.store_sync.run_once()  # the fleet's breaker states, as they are now
    with ThreadPoolExecutor(max(1, len(jobs)), thread_name_prefix="failover-status") as threads:
        results = list(threads.map(lambda job: checkers[job[0]].check_now(job[2]), jobs))
    probed = {(kind, result.target): result for (kind, _, _), result in zip(jobs, results, strict=True)}
    rows = []
    for kind, facade in setup.facades.items():
        for status in facade.status().targets:
            rows.append(_row(kind, status, probed[kind, status.name]))
    return rows


def _checker(facade: Facade[Any], timeout: float) -> Any:
    """A checker probing each target once with its configured probe (the provider's own
    when the file sets none), recording into the facade's health."""
    from failover.health.checker import Check, HealthChecker
    from failover.health.probes import ProviderProbe

    configured = {c.target: c.probe for c in facade.pool.checker.checks} if facade.pool.checker else {}
    healths = facade.pool.healths
    checks = [
        Check(t.name, configured.get(t.name) or ProviderProbe(t.provider), healths[t.name], timeout, timeout)
        for t in facade.pool.targets
    ]
    return HealthChecker(checks, clock=facade.pool.clock)


def _row(kind: str, status: Any, probe: ProbeResult) -> Row:
    breaker = status.breaker
    down = not probe.ok or any(state in _DOWN_BREAKERS for state in status.breakers.values())
    return Row(
        facade=kind,
        target=status.name,
        role="down" if down else status.role,
        down=down,
        probe="ok" if probe.ok else probe.reason,
        probe_ms=round(probe.elapsed * 1000, 1),
        breaker=breaker,
        last_error=status.last_error,
        last_error_age=status.last_error_age,
        operator=status.forced or status.drained,
    )


def _document(config: Path, rows: list[Row]) -> dict[str, Any]:
    return {
        "file": str(config),
        "checked_at": time.time(),
        "down": [f"{r.facade}:{r.target}" for r in rows if r.down],
        "targets": [asdict(r) for r in rows],
    }


def _table(rows: list[Row], title: str) -> None:
    from rich.table import Table

    table = Table()
    for column in ("facade", "target", "role", "probe", "latency", "breaker", "last error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        style = "red" if r.down else None
        last = "" if r.last_error is None else r.last_error
        if last and r.last_error_age is not None:
            last += f" ({r.last_error_age:.0f}s ago)"
        breaker = r.breaker if r.operator is None else f"{r.breaker} ({r.operator})"
        table.add_row(r.facade, r.target, r.role, r.probe, f"{r.probe_ms:.1f} ms", breaker, last, style=style)
    console = console_for(None)
    console.print(title, soft_wrap=True, highlight=False)  # one line, however long the path
    console.print(table)




__all__ = ["Row", "add_check", "add_status", "probe_setup", "run_check", "run_status"]
