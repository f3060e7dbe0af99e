"""``failover repair --config FILE``: repair what the journal says the targets owe, now.

After an outage the background drainer catches a target up on its own; this command does
the same from a shell, with a progress bar over the rows owed, and reports what is left:
rows a target refused for good (quarantined) and rows of targets still down.  It passes
until nothing is owed or a pass repairs nothing (a target still down), then exits.

Exit codes: 0 nothing owed, 1 rows are still owed, 2 a bad file (or no replication).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.cli.output import STDOUT, add_json_option, console_for, write_json
from failover.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from failover.facades.storage import FailoverStorage

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_OWED = 0, 1


def add_repair(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "repair",
        help="repair the writes the journal says the targets still owe, with a progress bar",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="exit status: 0 nothing owed, 1 rows still owed, 2 bad configuration",
    )
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="a set-up file with replication")
    parser.add_argument("--passes", type=int, default=100, metavar="N", help="at most N passes (100)")
    add_json_option(parser, "the outcome")
    parser.set_defaults(run=run_repair, parser=parser)


def run_repair(args: argparse.Namespace) -> int:
    from failover.config import load

    if args.passes < 1:
        raise ConfigError(f"--passes must be >= 1, got {args.passes}")
    console = console_for(args.json)
    with contextlib.closing(load(args.config)) as setup:  # not started: no drainer beside us
        storage = setup.storage
        if storage is None or storage.replication is None:
            raise ConfigError(f"{args.config}: repair needs a [storage] section with [storage.replication]")
        outcome = repair_all(storage, args.passes, console)
    if args.json is not None:
        write_json(args.json, outcome)
    if args.json != STDOUT:
        left = sum(outcome["owed"].values())
        console.print(f"{outcome['repaired']} repaired in {outcome['passes']} pass(es); {left} row(s) still owed")
        for target, rows in sorted(outcome["owed"].items()):
            console.print(f"  {target}: {rows} owed" + (" (down)" if target in outcome["down"] else ""))
    return EXIT_OWED if any(outcome["owed"].values()) else EXIT_OK


def repair_all(storage: FailoverStorage, passes: int, console: Console) -> dict[str, Any]:
    """Repair passes until nothing is owed or a pass makes no progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    replication = storage.replication
    assert replication is not None  # checked by the caller
    clock = storage.pool.clock
    wait = replication.inherited_until - clock.monotonic()
    if wait > 0:
        # A writer that died may have requests still on the wire: repairing first could be overwritten.
        with console.status(f"waiting {wait:.0f}s for writes an earlier process may still have on the wire"):
            clock.sleep(wait)
    owed_at_start = sum(storage.pending().values())
    repaired, made = 0, 0
    down: tuple[str, ...] = ()
    columns = (TextColumn("[bold]repair"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("rows", total=owed_at_start)
        while made < passes:
            report = replication.repairer.drain()
            made += 1
            repaired += report.repaired
            down = report.skipped
            progress.update(task, completed=owed_at_start - report.remaining)
            if report.remaining == 0 or report.repaired == 0:
                break
    return {
        "repaired": repaired,
        "passes": made,
        "owed": storage.pending(),
        "quarantined": len(storage.failed()),
        "down": list(down),
    }


__all__ = ["add_repair", "repair_all", "run_repair"]
