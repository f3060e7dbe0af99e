"""``failover force-open|force-closed|release TARGET --config FILE --reason WHY``: for a fleet.

A forced breaker state set in one process would vanish with it, so these commands work
through the fleet's shared breaker store (``[SECTION.fleet]`` in the set-up file): the
state is saved there, read back to prove the store took it, and every started facade of
the fleet adopts it within the store's ``sync_interval``.  The target is acted on in
every section of the file that has it (``--facade`` picks one).

Exit codes: 0 saved and read back; 1 the store did not take it (Redis unreachable: each
process goes on with its own breakers); 2 a bad file, an unknown target, or no fleet store.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.breaker.circuit import BreakerState
from failover.cli.output import STDOUT, add_json_option, console_for, write_json
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.config.setup import Setup
    from failover.facades.base import Facade

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_NOT_SAVED = 0, 1

ACTIONS = {
    "force-open": ("take a target out of service across the fleet until released", BreakerState.FORCED_OPEN),
    "force-closed": ("keep a target in rotation across the fleet whatever its errors", BreakerState.FORCED_CLOSED),
    "release": ("give a forced target back to its breakers, across the fleet", BreakerState.CLOSED),
}


def add_maintenance(commands: Subparsers) -> None:
    for action, (help_text, _) in ACTIONS.items():
        parser = commands.add_parser(
            action,
            help=help_text,
            description=__doc__.split("\n\n")[1].replace("\n", " "),
            epilog="exit status: 0 saved, 1 the fleet store did not take it, 2 usage error",
        )
        parser.add_argument("target", metavar="TARGET", help="the target's name, as in the file")
        parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="the set-up file")
        parser.add_argument("--reason", required=action != "release", help="why: shown in events, logs and status")
        parser.add_argument("--facade", choices=("storage", "dns", "compute"), help="only this section's target")
        add_json_option(parser, "what was saved")
        parser.set_defaults(run=run_maintenance, parser=parser, action=action)


def run_maintenance(args: argparse.Namespace) -> int:
    from failover.config import load

    reason = args.reason or "released by operator"
    with contextlib.closing(load(args.config)) as setup:  # not started: no drainer beside us
        facades = _facades_with(setup, args.target, args.facade)
        saved = {kind: _apply(facade, args.action, args.target, reason) for kind, facade in facades.items()}
    wanted = ACTIONS[args.action][1].value
    ok = all(state == wanted for states in saved.values() for state in states.values())
    document = {"target": args.target, "action": args.action, "wanted": wanted, "saved": saved, "ok": ok}
    if args.json is not None:
        write_json(args.json, document)
    if args.json != STDOUT:
        console = console_for(None)
        for kind, states in saved.items():
            for breaker, state in states.items():
                mark = "saved" if state == wanted else f"NOT saved (the store holds {state or 'nothing'})"
                console.print(f"{kind} {breaker}: {wanted} {mark}", highlight=False)
    return EXIT_OK if ok else EXIT_NOT_SAVED


def _facades_with(setup: Setup, target: str, only: str | None) -> dict[str, Facade[Any]]:
    found = {
        kind: facade
        for kind, facade in setup.facades.items()
        if (only is None or kind == only) and any(t.name == target for t in facade.pool.targets)
    }
    if not found:
        where = f"[{only}]" if only else "any section"
        raise ConfigError(f"{setup.source}: no target {target!r} in {where}")
    missing = [kind for kind, facade in found.items() if facade.pool.store_sync is None]
    if missing:
        raise ConfigError(
            f"{setup.source}: {', '.join(missing)} has no [{missing[0]}.fleet] breaker store; a forced state "
            "set from here would vanish with this process (in a service, call force_open on its facade)"
        )
    return found


def _apply(facade: Facade[Any], action: str, target: str, reason: str) -> dict[str, str | None]:
    """Act, then read each breaker's state back from the store: what the fleet will adopt."""
    if action == "force-open":
        facade.force_open(target, reason)
    elif action == "force-closed":
        facade.force_closed(target, reason)
    else:
        for _, member in facade.pool.members_of(target):
            member.breaker.reset(reason)  # saved to the store even if this process saw no force
    states: dict[str, str | None] = {}
    for _, member in facade.pool.members_of(target):
        store = member.breaker.store
        flush = getattr(store, "flush", None)
        if callable(flush):
            flush()  # the store writes on a thread of its own: wait for it before reading back
        stored = store.load(member.breaker.name) if store is not None else None
        states[member.breaker.name] = None if stored is None else stored.state
    return states


__all__ = ["add_maintenance", "run_maintenance"]
