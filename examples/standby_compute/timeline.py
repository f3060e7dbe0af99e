"""The demo's printed timeline: one row a pass, then a two-line verdict."""

from __future__ import annotations

from collections import Counter

from failover.controllers.standby import ReconcileReport

from .demo import ROLE, WARM_ROLE, DemoConfig, Outcome, Step
from .regions import PRIMARY_REGION, STANDBY_REGION

_ROW = "{t:>6}  {event:<13}  {east:<20}  {west:<16}  {decisions}"


def header(config: DemoConfig, moto_endpoint: str) -> str:
    lines = [
        f"moto on {moto_endpoint}; {PRIMARY_REGION} is reached through a fault proxy",
        f"pool {ROLE!r}: {config.instances} instances, warm_standby, {PRIMARY_REGION} first, "
        f"failback_after {config.failback_after:g}s",
        f"pool {WARM_ROLE!r}: {config.standby or 'none'} always running in {STANDBY_REGION}",
        f"t is simulated (a FakeClock, +{config.interval:g}s a pass); every EC2 call is real, "
        f"a blackholed one waits {config.timeout:g}s",
        "instances counted straight from moto, pending or running",
        "",
        _ROW.format(t="t", event="event", east=PRIMARY_REGION, west=STANDBY_REGION, decisions="pool decisions"),
    ]
    return "\n".join(lines)


def row(step: Step) -> str:
    east = f"{step.count(PRIMARY_REGION)} web"
    if step.primary_breaker != "closed":
        east += f", breaker {step.primary_breaker.replace('_', '-')}"
    warm, web = step.count(STANDBY_REGION, WARM_ROLE), step.count(STANDBY_REGION)
    west = f"{warm} warm + {web} web" if web else f"{warm} warm"
    return _ROW.format(t=f"{step.at:g}s", event=step.event, east=east, west=west, decisions=decisions(step))


def decisions(step: Step) -> str:
    """What the pools saw and did in this pass, in a few words."""
    parts = [*_seen(step.pool), *_done(step.pool, "")]
    if step.warm is not None:
        parts += _done(step.warm, "warm: ")
    return "; ".join(parts) or "-"


def _seen(report: ReconcileReport) -> list[str]:
    seen = []
    for name in report.down:
        kinds = sorted({e.kind for e in report.errors if e.target == name and e.action == "list"})
        seen.append(f"{_region(name)} down ({', '.join(kinds) or 'health'})")
    for name in report.running:
        if name not in report.settled:
            seen.append(f"{_region(name)} answers again, not settled")
    return seen


def _done(report: ReconcileReport, prefix: str) -> list[str]:
    actions = Counter((a.action, a.target) for a in report.actions)
    done = [f"{prefix}{action} {count} in {_region(target)}" for (action, target), count in actions.items()]
    failed = Counter((e.action, e.target) for e in report.errors if e.action != "list")
    done += [f"{prefix}{action} failed in {_region(target)}" for action, target in failed]
    return done


def _region(target: str) -> str:
    return target.split(":", 1)[1]


def summary(outcome: Outcome) -> str:
    over, recovered, back = outcome.failed_over, outcome.recovered, outcome.failed_back
    config, lines = outcome.config, [""]
    if over is None:
        lines.append(f"failover: NOT SEEN: {STANDBY_REGION} never took the {ROLE} instances")
    else:
        lines.append(
            f"failover: {STANDBY_REGION} ran {over.count(STANDBY_REGION)} {ROLE} instances at {over.at:g}s, "
            f"in the first pass {PRIMARY_REGION} did not answer"
        )
    settling = outcome.settling_from
    if back is None or recovered is None or settling is None:
        lines.append(f"failback: NOT SEEN: the {ROLE} instances stayed in {STANDBY_REGION}")
    else:
        closed = "" if settling == recovered.at else f" and its breaker closed at {settling:g}s"
        lines.append(
            f"failback: {PRIMARY_REGION} answered again at {recovered.at:g}s{closed}; {STANDBY_REGION}'s "
            f"{ROLE} instances were terminated at {back.at:g}s, once failback_after ({config.failback_after:g}s) "
            f"had passed"
        )
    lines.append("OK" if outcome.ok else "FAILED")
    return "\n".join(lines)


__all__ = ["decisions", "header", "row", "summary"]
