"""`StandbyPool`: keep N instances of a role running across regions and clouds.

One `reconcile()` pass looks at every target of a `FailoverCompute`, counts the
RUNNING (or PENDING) instances tagged with the role on the targets that are up, and:

* **restores** capacity when fewer than ``desired`` run: in priority order over the
  targets that are up, it starts a stopped standby it owns (``pilot_light``) or
  creates a new instance (``warm_standby``, and ``pilot_light`` when no standby is
  left to start);
* **scales back** when more than ``desired`` run on *settled* targets (up for at least
  ``failback_after`` seconds): it stops (``pilot_light``: the instance becomes a
  standby again) or terminates (``warm_standby``) instances it owns, lowest
  priority first.  A target that just recovered is not settled, so its instances
  do not count as surplus until the hysteresis has passed: capacity moves back
  only once the region has proved itself.

Ownership is marked with tags set *at creation* (`OWNER_TAG`, `ROLE_TAG`,
`CREATED_BY_TAG`), so an instance whose creation "failed" after the cloud had made
it is recognised on the next pass and counted or removed like any other: no orphan
outlives one pass.  The pool never stops or terminates an instance without its
owner tag.  Tag keys and values use only ``[a-z0-9_-]``, which every cloud accepts
(GCE labels are the strictest).

Every action is emitted to ``listeners`` as a `StandbyAction` / `StandbyActionFailed`
event, once; add a `failover.events.LoggingListener` to log them (an action at INFO, a
failure at WARNING when temporary, ERROR when not).
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from failover.capabilities import Instance, InstanceSpec, InstanceState
from failover.clock import Clock
from failover.errors import ConfigError, FailoverError, PermissionDenied
from failover.execution.pool import READ
from failover.facades.compute import FailoverCompute

logger = logging.getLogger("failover.controllers.standby")

ROLE_TAG = "failover-role"
OWNER_TAG = "failover-owner"
CREATED_BY_TAG = "failover-created-by"
CREATED_BY = "standby-pool"
RESERVED_TAGS = frozenset({ROLE_TAG, OWNER_TAG, CREATED_BY_TAG})

Mode = Literal["pilot_light", "warm_standby"]
Action = Literal["create", "start", "stop", "terminate"]
_LIVE = frozenset({InstanceState.RUNNING, InstanceState.PENDING})
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


# ---------------------------------------------------------------- events and report


@dataclass(frozen=True, slots=True)
class StandbyAction:
    """The pool changed an instance: created, started, stopped or terminated it."""

    pool: str
    target: str
    action: Action
    instance_id: str
    reason: str
    at: float = field(default_factory=time.time, compare=False, kw_only=True)

    level = logging.INFO  # the pool doing its job, at start-up as after a failure

    def __str__(self) -> str:
        return f"standby pool {self.pool}: {self.action} {self.instance_id} on {self.target} ({self.reason})"


@dataclass(frozen=True, slots=True)
class StandbyActionFailed:
    """An action, or looking at a target, failed; ``kind`` is the error's kind."""

    pool: str
    target: str
    action: str
    kind: str
    message: str
    temporary: bool
    at: float = field(default_factory=time.time, compare=False, kw_only=True)

    @property
    def level(self) -> int:
        return logging.WARNING if self.temporary else logging.ERROR

    def __str__(self) -> str:
        return f"standby pool {self.pool}: {self.action} on {self.target} failed: {self.message}"


StandbyEvent = StandbyAction | StandbyActionFailed


class StandbyListener(Protocol):
    def on_event(self, event: StandbyEvent) -> None: ...


@dataclass(frozen=True)
class ReconcileReport:
    """What one pass saw and did."""

    desired: int
    running: Mapping[str, int]  # live instances of the role per target that answered
    down: tuple[str, ...]  # targets that were skipped or failed to answer
    settled: tuple[str, ...]  # targets up for at least failback_after
    actions: tuple[StandbyAction, ...] = ()
    errors: tuple[StandbyActionFailed, ...] = ()

    @property
    def total_running(self) -> int:
        return sum(self.running.values())

    @property
    def short(self) -> int:
        """Instances still missing after the pass (0 when capacity is restored)."""
        return max(0, self.desired - self.total_running)


@dataclass
class _Pass:
    """Mutable working state of one reconcile pass."""

    live: dict[str, list[Instance]] = field(default_factory=dict)
    stopped: dict[str, list[Instance]] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    actions: list[StandbyAction] = field(default_factory=list)
    errors: list[StandbyActionFailed] = field(default_factory=list)
    permanent: list[FailoverError] = field(default_factory=list)


# ---------------------------------------------------------------- the pool


class StandbyPool:
    """Keeps ``desired`` instances of ``role`` running on the healthy targets of ``compute``.

    ``spec`` describes a new instance; ``specs`` overrides it per target name, since
    machine types and images are named differently on each cloud.  ``pool_id`` (default:
    the role) is written into the owner tag: keep it stable across restarts, so the pool
    recognises what it created before.  Call `reconcile` periodically (every few
    seconds to a minute); it is idempotent and safe to call from several threads.
    """

    def __init__(
        self,
        compute: FailoverCompute,
        role: str,
        spec: InstanceSpec,
        *,
        desired: int,
        mode: Mode,
        failback_after: float,
        clock: Clock | None = None,
        listeners: Iterable[StandbyListener] = (),
        specs: Mapping[str, InstanceSpec] | None = None,
        pool_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(compute, FailoverCompute):
            raise ConfigError(f"StandbyPool needs a FailoverCompute, not {type(compute).__name__}")
        _check_label("role", role)
        self.pool_id = role if pool_id is None else pool_id
        _check_label("pool_id", self.pool_id)
        if isinstance(desired, bool) or not isinstance(desired, int) or desired <= 0:
            raise ConfigError(f"standby pool {self.pool_id}: desired must be a positive int, not {desired!r}")
        if mode not in ("pilot_light", "warm_standby"):
            raise ConfigError(f"standby pool {self.pool_id}: mode must be pilot_light or warm_standby, not {mode!r}")
        if isinstance(failback_after, bool) or not isinstance(failback_after, (int, float)) or not failback_after >= 0:
            raise ConfigError(f"standby pool {self.pool_id}: failback_after must be >= 0 s, not {failback_after!r}")
        names = [t.name for t in compute.pool.targets]
        unknown = set(specs or {}) - set(names)
        if unknown:
            raise ConfigError(f"standby pool {self.pool_id}: specs name unknown targets: {', '.join(sorted(unknown))}")
        self.compute = compute
        self.role = role
        self.desired = desired
        self.mode: Mode = mode
        self.failback_after = float(failback_after)
        self._specs = {name: self._tagged(name, (specs or {}).get(name, spec)) for name in names}
        self._order = [t.name for t in sorted(compute.pool.targets, key=lambda t: t.priority)]
        self._clock = clock if clock is not None else compute.pool.clock
        self._listeners = tuple(listeners)
        self._rng = rng or random.Random()
        self._up_since: dict[str, float] = {}  # our own view: since when each target answered
        self._observed = False  # targets up at the very first pass count as up forever
        self._lock = threading.Lock()

    def _tagged(self, target: str, spec: InstanceSpec) -> InstanceSpec:
        if not isinstance(spec, InstanceSpec):
            raise ConfigError(f"standby pool {self.pool_id}, target {target}: spec must be an InstanceSpec")
        clash = RESERVED_TAGS & set(spec.tags)
        if clash:
            raise ConfigError(f"standby pool {self.pool_id}: spec tags may not set {', '.join(sorted(clash))}")
        tags = {**spec.tags, ROLE_TAG: self.role, OWNER_TAG: self.pool_id, CREATED_BY_TAG: CREATED_BY}
        return replace(spec, tags=tags)

    def owns(self, instance: Instance) -> bool:
        """Whether this pool created ``instance`` (the only ones it may stop or terminate)."""
        tags = instance.tags
        return (
            tags.get(OWNER_TAG) == self.pool_id
            and tags.get(ROLE_TAG) == self.role
            and tags.get(CREATED_BY_TAG) == CREATED_BY
        )

    def __repr__(self) -> str:
        return f"StandbyPool({self.pool_id!r}, role={self.role!r}, desired={self.desired}, mode={self.mode!r})"

    # ------------------------------------------------------------ reconcile

    def reconcile(self) -> ReconcileReport:
        """One pass: observe every target, restore missing capacity, remove settled surplus.

        Raises the first permanent error (unknown image, permission denied...; it names
        its target) when it kept the pass from reaching ``desired``.
        """
        with self._lock:
            work = _Pass()
            now = self._clock.monotonic()
            self._observe(work, now)
            settled = [n for n in self._order if n in work.live and self._settled(n, now)]
            short = self.desired - sum(len(v) for v in work.live.values())
            if short > 0:
                self._restore(work, short, settled)
            else:
                self._scale_back(work, settled)
            report = ReconcileReport(
                desired=self.desired,
                running={n: len(v) for n, v in work.live.items()},
                down=tuple(work.down),
                settled=tuple(settled),
                actions=tuple(work.actions),
                errors=tuple(work.errors),
            )
        if report.short and work.permanent:
            raise work.permanent[0]
        if report.short:
            logger.error("standby pool %s: only %d of %d running", self.pool_id, report.total_running, self.desired)
        return report

    def _observe(self, work: _Pass, now: float) -> None:
        first, self._observed = not self._observed, True
        for name in self._order:
            if not self.compute.pool.healths[name].healthy:
                self._mark_down(work, name, "list", None)
                continue
            try:
                instances = list(self.compute.list_instances({ROLE_TAG: self.role}, target=name))
            except FailoverError as exc:
                if _blind(exc):
                    raise  # denied, bad request: acting blind could double the fleet
                self._mark_down(work, name, "list", exc)
                continue
            self._up_since.setdefault(name, -math.inf if first else now)
            work.live[name] = [i for i in instances if i.state in _LIVE]
            work.stopped[name] = [i for i in instances if i.state is InstanceState.STOPPED and self.owns(i)]

    def _mark_down(self, work: _Pass, name: str, action: str, error: FailoverError | None) -> None:
        # Forget since when it was up: its return starts the hysteresis afresh.
        self._up_since.pop(name, None)
        work.down.append(name)
        if error is not None:
            self._failed(work, name, action, error)

    def _settled(self, name: str, now: float) -> bool:
        member = self.compute.pool.member(name, READ)
        up_since = max(self._up_since.get(name, now), member.up_since())
        return now - up_since >= self.failback_after

    def _restore(self, work: _Pass, short: int, settled: list[str]) -> None:
        # Settled targets first, then recovering ones; each in priority order.
        candidates = settled + [n for n in self._order if n in work.live and n not in settled]
        for name in candidates:
            while short > 0 and name not in work.failed:
                if self._add_one(work, name):
                    short -= 1
            if short <= 0:
                return

    def _add_one(self, work: _Pass, name: str) -> bool:
        stopped = work.stopped[name]
        if self.mode == "pilot_light" and stopped:
            standby = stopped.pop(0)
            instance = self._act(work, name, "start", standby.id, "capacity short: starting a pilot-light standby")
        else:
            spec = self._specs[name]
            spec = replace(spec, name=f"{spec.name}-{self._rng.getrandbits(32):08x}")
            instance = self._act(work, name, "create", spec, "capacity short: creating an instance")
        if instance is None:
            return False
        work.live[name].append(instance)
        return True

    def _scale_back(self, work: _Pass, settled: list[str]) -> None:
        surplus = sum(len(work.live[n]) for n in settled) - self.desired
        action: Action = "stop" if self.mode == "pilot_light" else "terminate"
        for name in reversed(settled):  # lowest priority first
            mine = sorted((i for i in work.live[name] if self.owns(i)), key=lambda i: i.created or 0.0, reverse=True)
            for instance in mine:
                if surplus <= 0:
                    return
                if name in work.failed:
                    break
                why = f"surplus of {surplus} on settled targets"
                if self._act(work, name, action, instance.id, why) is not None:
                    work.live[name].remove(instance)
                    surplus -= 1

    # ------------------------------------------------------------ one action

    def _act(self, work: _Pass, name: str, action: Action, what: str | InstanceSpec, why: str) -> Instance | None:
        """Do one action on one target and return the instance after it (for ``terminate``, a
        TERMINATED stand-in); on failure record it, skip the target for this pass, return None."""
        compute = self.compute
        try:
            if action == "create":
                assert isinstance(what, InstanceSpec)
                instance = compute.create_instance(what, target=name)
            elif action == "start":
                instance = compute.start_instance(str(what), target=name)
            elif action == "stop":
                instance = compute.stop_instance(str(what), target=name)
            else:
                compute.terminate_instance(str(what), target=name)
                instance = None
        except FailoverError as exc:
            work.failed.add(name)
            self._failed(work, name, action, exc)
            if _blind(exc):
                work.permanent.append(exc)
            return None
        instance_id = instance.id if instance is not None else str(what)
        event = StandbyAction(self.pool_id, name, action, instance_id, why)
        work.actions.append(event)
        self._emit(event)
        return instance if instance is not None else _gone(instance_id, name)

    def _failed(self, work: _Pass, name: str, action: str, exc: FailoverError) -> None:
        event = StandbyActionFailed(self.pool_id, name, action, exc.kind, str(exc), exc.temporary)
        work.errors.append(event)
        self._emit(event)

    def _emit(self, event: StandbyEvent) -> None:
        for listener in self._listeners:
            try:
                listener.on_event(event)
            except Exception:  # a broken listener must not break the reconcile pass
                logger.exception("listener %r failed on %r", listener, event)


def _gone(instance_id: str, target: str) -> Instance:
    return Instance(id=instance_id, name="", state=InstanceState.TERMINATED, region=target)


def _check_label(what: str, value: object) -> None:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise ConfigError(
            f"standby pool {what} must be 1-63 characters of lowercase letters, digits, '_' and '-', "
            f"starting with a letter (a tag value every cloud accepts), not {value!r}"
        )

def _blind(exc: FailoverError) -> bool:
    """An error the next pass would meet again: denied, a bad request.  A pool must not act
    on a region it cannot see, so these stop the pass instead of marking the region down."""
    return not exc.fails_over or isinstance(exc, PermissionDenied)


__all__ = [
    "CREATED_BY",
    "CREATED_BY_TAG",
    "OWNER_TAG",
    "RESERVED_TAGS",
    "ROLE_TAG",
    "Action",
    "Mode",
    "ReconcileReport",
    "StandbyAction",
    "StandbyActionFailed",
    "StandbyEvent",
    "StandbyListener",
    "StandbyPool",
]
