"""The ``failover reconcile`` command: load the targets, run `reconcile` with a progress bar, print."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from failover.cli.output import STDOUT, write_json
from failover.config import load
from failover.errors import ConfigError
from failover.replication.journal import Journal, RepairJournal
from failover.replication.reconcile import ReconcileReport, reconcile
from failover.target import Target

SHOWN = 50  # rows of divergence printed; the JSON report has them all


def load_targets(spec: str) -> tuple[list[Target], RepairJournal | None]:
    """``module:name`` -> targets (and the journal of a replicated FailoverStorage)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--targets must look like MODULE:NAME, not {spec!r}")
    # The command runs in the user's project: let `module` be found next to them.
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        value: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load {spec!r}: {exc}") from exc
    if callable(value) and not isinstance(value, (list, tuple)) and not hasattr(value, "pool"):
        value = value()
    replication = getattr(value, "replication", None)
    if hasattr(value, "pool"):
        return list(value.pool.targets), None if replication is None else replication.journal
    if isinstance(value, Sequence) and all(isinstance(t, Target) for t in value):
        return list(value), None
    raise ConfigError(f"{spec!r} is neither a list of Target objects nor a FailoverStorage")


def run_reconcile(args: argparse.Namespace, console: Console) -> int:
    if args.config is not None:
        with contextlib.closing(load(args.config)) as setup:  # not started: no drainer beside us
            storage = setup.storage
            if storage is None:
                raise ConfigError(f"{args.config}: reconcile needs a [storage] section")
            journal = None if storage.replication is None or args.journal else storage.replication.journal
            return _reconcile(args, console, list(storage.pool.targets), journal)
    targets, journal = load_targets(args.targets)
    return _reconcile(args, console, targets, journal)


def _reconcile(args: argparse.Namespace, console: Console, targets: list[Target], journal: RepairJournal | None) -> int:
    opened = None
    if args.journal is not None:
        journal = opened = Journal(args.journal)
    progress = Progress(
        TextColumn("[bold]reconcile"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("keys", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = reconcile(
                targets,
                prefix=args.prefix,
                journal=journal,
                repair=args.repair,
                verify=args.verify,
                checkpoint=args.checkpoint,
                progress=advance,
            )
    finally:
        if opened is not None:
            opened.close()
    if args.json != STDOUT:
        _print(report, console)
    if args.json is not None:
        write_json(args.json, report.as_dict())
    return 0 if report.ok else 1


def _print(report: ReconcileReport, console: Console) -> None:
    if report.divergent:
        table = Table(title="divergence", show_lines=False)
        for column in ("key", "action", "from", "targets", "reason"):
            table.add_column(column)
        for d in report.divergent[:SHOWN]:
            table.add_row(d.key, d.action, d.source or "-", ", ".join(d.targets), d.reason)
        console.print(table)
        if len(report.divergent) > SHOWN:
            console.print(f"... and {len(report.divergent) - SHOWN} more (use --json for all)")
    for d, error in report.failed:
        console.print(f"[red]repair of {d.key} on {', '.join(d.targets)} failed: {error}")
    for key, reason in report.skipped[:SHOWN]:
        console.print(f"[yellow]skipped {key!r}: {reason}")
    if len(report.skipped) > SHOWN:
        console.print(f"... and {len(report.skipped) - SHOWN} more skipped (use --json for all)")
    mode = "dry run, nothing written" if report.dry_run else f"{report.repaired} repaired"
    resumed = f", resumed after {report.resumed_after!r}" if report.resumed_after else ""
    checked = ", bytes verified" if report.verified else ""
    console.print(
        f"{report.scanned} keys scanned, {len(report.divergent)} divergent, {len(report.skipped)} skipped "
        f"({mode}{checked}{resumed})"
    )


__all__ = ["load_targets", "run_reconcile"]
