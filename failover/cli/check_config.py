"""``failover check-config FILE [--json]``: validate a set-up file and build its providers.

Nothing is called on any cloud, nothing is started and no journal is opened: the file is
read, validated, and every provider and settings object it names is built, as
`failover.config.load` would.  A valid file prints a short summary (``--json``: a JSON
document) and exits 0; an invalid one prints the `ConfigError` line and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.cli.output import STDOUT, add_json_option, write_json
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.config.schema import FacadeSection, SetupConfig

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_CONFIG = 0, 2


def add_check_config(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "check-config",
        help="validate a set-up file (storage, DNS, compute facades) without calling any cloud",
        description=(
            "Read a failover set-up file, validate every section, and build its providers and "
            "settings as failover.config.load would, without calling any cloud or starting "
            "anything. See docs/configuration.md for the format."
        ),
        epilog="exit status: 0 valid, 2 invalid (the problem is printed on stderr)",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the TOML set-up file")
    add_json_option(parser, "the summary")
    parser.set_defaults(run=run_check_config, parser=parser)


def run_check_config(args: argparse.Namespace) -> int:
    # pydantic, and each adapter the file names, load only now.
    from failover.config._toml import read_toml
    from failover.config.setup import Options, check, read
    from failover.registry import Registry

    try:
        source, data = read_toml(args.file)
        config = read(data, source)
        check(config, Options(source, Path(args.file).parent, os.environ, Registry()))
    except ConfigError as exc:
        print(f"failover check-config: error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    report = summary(config, source)
    if args.json is not None:
        write_json(args.json, report)
    if args.json != STDOUT:
        _print(report)
    return EXIT_OK


def summary(config: SetupConfig, source: str) -> dict[str, Any]:
    """What the file sets up, per facade: targets, policy, replication.  No secret is in it:
    credentials appear as their kind and the names of the variables they read."""
    facades: dict[str, Any] = {}
    for name in ("storage", "dns", "compute"):
        section: FacadeSection | None = getattr(config, name)
        if section is not None:
            facades[name] = _facade(section)
    return {"file": source, "valid": True, "facades": facades}


def _facade(section: FacadeSection) -> dict[str, Any]:
    replication = getattr(section, "replication", None)
    return {
        "targets": [
            {
                "name": t.name,
                "provider": t.provider,
                "priority": t.priority,
                "weight": t.weight,
                "where": {k: v for k, v in t.model_dump(include=_WHERE).items() if v is not None},
                "credentials": t.credentials.model_dump(exclude_unset=True) or {"kind": "default"},
            }
            for t in section.targets
        ],
        "policy": section.policy.model_dump(exclude_unset=True) or {"kind": "priority"},
        "replication": None if replication is None else replication.model_dump(exclude_unset=True),
        "health_checks": section.health_checks is not None,
        "breaker_store": None if section.fleet is None else _store(section),
    }


_WHERE = {"region", "bucket", "container", "account", "zone", "project", "endpoint"}


def _store(section: FacadeSection) -> str:
    fleet = section.fleet
    assert fleet is not None  # checked by the caller
    return fleet.breaker_store or f"${fleet.breaker_store_env}"


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{report['file']}[/bold]: valid")
    for name, facade in report["facades"].items():
        table = Table(title=f"[{name}]", title_justify="left")
        for column in ("target", "provider", "priority", "weight", "where", "credentials"):
            table.add_column(column)
        for t in facade["targets"]:
            where = " ".join(f"{k}={v}" for k, v in t["where"].items())
            kind = t["credentials"]["kind"]
            table.add_row(t["name"], t["provider"], str(t["priority"]), f"{t['weight']:g}", where, kind)
        console.print(table)
        console.print(f"  policy: {_words(facade['policy'])}")
        replication = facade["replication"]
        console.print(f"  replication: {_words(replication) if replication else 'none (a write goes to one target)'}")
        if facade["breaker_store"]:
            console.print(f"  breaker store: {facade['breaker_store']}")


def _words(table: dict[str, Any]) -> str:
    head = table.get("kind") or table.get("mode")
    rest = ", ".join(f"{k}={v}" for k, v in table.items() if k not in ("kind", "mode"))
    return f"{head} ({rest})" if rest else str(head)


__all__ = ["add_check_config", "run_check_config", "summary"]
