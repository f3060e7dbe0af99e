"""`FailoverDNS`: one DNS zone served by several DNS providers.

Reads go to the healthiest provider, with failover.  Writes go to every provider
(``writes="all"``, the default), one after another, each through its own breaker:

* every provider took it: the call returns;
* some did, some did not: the ones that took it keep it, and the call raises
  `QuorumNotReached`.  Its message names the zones that took the change and why each
  other one did not; ``.acked`` lists the former.  Nothing is journaled: a zone that
  missed a write stays behind until the call is repeated (upserts and deletes are
  idempotent, so repeating it is safe);
* none did: the error is raised as it is (bad input: the first zone's answer, since
  every zone would say the same), or `AllTargetsFailed` with each zone's error.

``writes="one"`` sends a write to one provider only, with failover, as reads do: for
zones that replicate among themselves (a hidden primary with AXFR secondaries).  With
independent zones it lets them drift apart, so it is never the default.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from failover.capabilities import Capability, DnsZone, Record
from failover.errors import AllTargetsFailed, ConfigError, FailoverError, InvalidInput, QuorumNotReached
from failover.facades.base import Facade
from failover.routing.router import Member
from failover.target import Target

if TYPE_CHECKING:
    from failover.breaker.circuit import BreakerConfig
    from failover.breaker.store import BreakerStore
    from failover.clock import Clock
    from failover.events import Listener
    from failover.execution.executor import ExecutionConfig
    from failover.execution.pool import ProbeConfig
    from failover.health.target_health import HealthConfig
    from failover.routing.policies import Policy

R = TypeVar("R")
Writes = Literal["all", "one"]


class FailoverDNS(Facade[DnsZone]):
    """A `DnsZone` facade: reads from the healthiest provider, writes to every provider.

    Every target must hold the same zone.  ``writes`` is ``"all"`` (default) or
    ``"one"``; the module docstring says exactly what each does when a zone fails.
    """

    kind = "dns"
    capability = Capability.DNS_ZONE
    read_operations = frozenset({"list_records", "get_record"})

    def __init__(
        self,
        targets: Sequence[Target[DnsZone]],
        *,
        writes: Writes = "all",
        policy: Policy | None = None,
        failback_after: float = 30.0,
        breaker: BreakerConfig | None = None,
        breaker_per: Literal["target", "operation_class"] = "target",
        breaker_store: BreakerStore | None = None,
        health: HealthConfig | None = None,
        execution: ExecutionConfig | None = None,
        health_checks: ProbeConfig | None = None,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        rng: random.Random | None = None,
        instruments: Iterable[object] = (),
    ) -> None:
        """``writes`` as above; every other keyword configures the pool (see `Facade`)."""
        if writes not in ("all", "one"):
            raise ConfigError(f"writes must be 'all' or 'one', not {writes!r}")
        super().__init__(
            targets,
            policy=policy,
            failback_after=failback_after,
            breaker=breaker,
            breaker_per=breaker_per,
            breaker_store=breaker_store,
            health=health,
            execution=execution,
            health_checks=health_checks,
            clock=clock,
            listeners=listeners,
            rng=rng,
            instruments=instruments,
        )
        self.writes: Writes = writes

    def list_records(self) -> Iterator[Record]:
        # Materialised inside the call, so a provider failing mid-listing fails over.
        records = self._read("list_records", lambda m: list(m.provider.list_records()))
        return iter(records)

    def get_record(self, name: str, type: str) -> Record:
        _check_name_type(name, type)
        return self._read("get_record", lambda m: m.provider.get_record(name, type))

    def upsert_record(self, record: Record) -> Record:
        if not isinstance(record, Record):
            raise InvalidInput(f"upsert_record takes a Record, not {type(record).__name__}")
        what = f"upsert_record {record.name} {record.type}"
        return self._write_all("upsert_record", what, lambda m: m.provider.upsert_record(record))

    def delete_record(self, name: str, type: str) -> None:
        _check_name_type(name, type)
        self._write_all("delete_record", f"delete_record {name} {type}", lambda m: m.provider.delete_record(name, type))

    def _write_all(self, operation: str, what: str, call: Callable[[Member[DnsZone]], R]) -> R:
        if self.writes == "one":
            return self._write(operation, call)
        took: list[str] = []
        results: list[R] = []  # one per zone in `took`; the first zone's answer is returned
        errors: dict[str, FailoverError] = {}
        for target in self.pool.targets:
            try:
                results.append(self._pinned(target.name, operation, call))
            except FailoverError as exc:
                if not took and exc.status == "permanent":
                    raise  # the zone answered (bad input, say): the others would say the same
                errors[target.name] = exc
                continue
            took.append(target.name)
        if not errors:
            return results[0]  # a pool has at least one target, and every one took it
        raise _partial(operation, what, took, errors)


def _partial(operation: str, what: str, took: list[str], errors: dict[str, FailoverError]) -> FailoverError:
    missed = "; ".join(f"{name} ({exc.kind}: {exc.message})" for name, exc in errors.items())
    if not took:
        if len(errors) == 1:
            return next(iter(errors.values()))
        return AllTargetsFailed(
            f"{what}: no zone took it: {missed}", operation=operation, attempts=list(errors.values())
        )
    return QuorumNotReached(
        f"{what}: written to {', '.join(took)}; not to {missed}. The zones differ until the call is repeated",
        operation=operation,
        attempts=list(errors.values()),
        acked=tuple(took),
    )


def _check_name_type(name: str, type: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"record name must be a non-empty str, got {name!r}")
    if not isinstance(type, str) or not type:
        raise InvalidInput(f"record type must be a non-empty str, got {type!r}")


__all__ = ["FailoverDNS", "Writes"]
