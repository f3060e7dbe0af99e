"""Prometheus metrics for a facade (or a `DnsController`), attached as one instrument::

    from prometheus_client import CollectorRegistry
    from failover.telemetry.metrics import PrometheusMetrics

    registry = CollectorRegistry()
    storage = FailoverStorage(targets, instruments=[PrometheusMetrics(registry, facade="orders")])

What costs something per call is counted as it happens: each attempt on a target (a counter
and a latency histogram, from the instrument's layer, outermost in every target's stack),
and the events of failovers, failbacks, panics, hedges, retries, quarantined repairs and DNS
publishes (from its listener).  State is read only when the registry is scraped: breaker
states, health, roles and panic from ``facade.status()``, and the replication backlog from
the journal, so a call pays nothing for them.

Labels are few and bounded: ``facade``, ``target``, ``operation``, ``outcome`` (``ok`` or an
error kind) and the like.  No key, object name or error message is ever a label value.

Every instrument on one registry shares one set of ``failover_*`` families, told apart by
the ``facade`` label, so several facades of a process can share a registry.  See
docs/metrics.md for every metric and example alert rules.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from failover.errors import ConfigError, FailoverError, classify
from failover.events import (
    BreakerTransition,
    DnsPublished,
    FailedBack,
    FailedOver,
    HealthChanged,
    Hedged,
    HedgeWon,
    PanicMode,
    RepairQuarantined,
    Retried,
    RetryRefused,
)
from failover.layers.base import Attempt, Invoke, Skip
from failover.replication.versioning import timestamp_of


class MetricsUnavailable(ConfigError, ImportError):
    """prometheus_client is not installed: the ``metrics`` extra installs it.  Both a
    `ConfigError` and an `ImportError`, so either ``except`` clause catches it."""


try:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    # After the client, whose absence is what the error below names.
    from failover.telemetry._families import (
        ATTEMPT_LABELS,
        BUCKETS,
        GAUGES,
        Reading,
        families_of,
    )
except ImportError as exc:  # pragma: no cover - exercised in a fresh interpreter by the tests
    raise MetricsUnavailable(
        f"failover.telemetry.metrics needs the 'metrics' extra ({exc}): pip install 'multicloud-failover[metrics]'"
    ) from exc

if TYPE_CHECKING:
    from failover.routing.router import Member

logger = logging.getLogger(__name__)

UNLABELLED = "default"  # the facade label of an instrument neither labelled nor attached
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _outcome(exc: Exception, attempt: Attempt) -> str:
    """The error kind of ``exc`` as the library classifies it; ``error`` if it does not."""
    if isinstance(exc, FailoverError):
        return exc.kind
    known = classify(exc, target=attempt.member.name, operation=attempt.operation)
    return "error" if known is None else known.kind


class PrometheusMetrics:
    """The instrument: give it to a facade (``instruments=[metrics]``) or to a
    `DnsController` (``listeners=[metrics]``), one instrument per facade or controller.

    ``registry``: the `prometheus_client.CollectorRegistry` to register on (a new one by
    default; pass ``prometheus_client.REGISTRY`` for the process-wide one).  ``facade``: the
    value of the ``facade`` label, unique on the registry; by default the kind of the
    facade it is attached to (``storage``, ``dns``, ``compute``), or ``default`` for a
    controller's listener that is given none.  ``time_ns``: the wall clock that the age of
    the replication backlog is measured on (that of the writes' versions).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        facade: str | None = None,
        time_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if registry is not None and not isinstance(registry, CollectorRegistry):
            raise ConfigError(f"registry must be a prometheus_client CollectorRegistry, not {registry!r}")
        if facade is not None and (not isinstance(facade, str) or not _LABEL.fullmatch(facade)):
            raise ConfigError(f"facade must be 1-64 letters, digits or _ . : -, not {facade!r}")
        if not callable(time_ns):
            raise ConfigError(f"time_ns must be a callable returning nanoseconds, not {time_ns!r}")
        self.registry = CollectorRegistry() if registry is None else registry
        self._families = families_of(self.registry)
        self._label = facade
        self._time_ns = time_ns
        self._facade: weakref.ref[Any] | None = None
        # What the events said, for an instrument with no facade to read (a controller's).
        self._healthy: dict[str, bool] = {}
        self._breakers: dict[tuple[str, str], str] = {}  # (target, breaker) -> state
        self._panic: bool | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            FailedOver: self._failed_over,
            FailedBack: self._failed_back,
            PanicMode: self._panic_mode,
            Hedged: self._hedged,
            HedgeWon: self._hedge_won,
            Retried: self._retried,
            RetryRefused: self._retry_refused,
            BreakerTransition: self._transition,
            HealthChanged: self._health,
            RepairQuarantined: self._quarantined,
            DnsPublished: self._published,
        }
        if facade is not None:
            self._families.claim(facade, self)

    @property
    def facade(self) -> str:
        """The ``facade`` label value of this instrument's series."""
        return UNLABELLED if self._label is None else self._label

    def __repr__(self) -> str:
        return f"PrometheusMetrics(facade={self.facade!r})"

    # ------------------------------------------------------------ instrument hooks

    def attach(self, facade: Any) -> None:
        """Read ``facade``'s status at each scrape; called once the facade is built."""
        if self._facade is not None and self._facade() not in (None, facade):
            raise ConfigError(f"instruments: {self!r} is already attached to another facade; make one per facade")
        if self._label is None:
            label = str(getattr(facade, "kind", UNLABELLED))
            self._families.claim(label, self)
            self._label = label
        self._facade = weakref.ref(facade)

    def wrap(self, member: Member[Any], inner: Invoke) -> Invoke:
        """The layer counting and timing each attempt on ``member``."""
        target, families = member.name, self._families
        # Labelled children, bound on first use: the label lookup is paid once per
        # operation and outcome, not on every attempt.
        bound: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

        def record(attempt: Attempt, outcome: str) -> None:
            pair = bound.get((attempt.operation, outcome))
            if pair is None:
                labels = (self.facade, target, attempt.operation, outcome)
                pair = bound[attempt.operation, outcome] = (
                    families.attempts.labels(*labels),
                    families.duration.labels(*labels),
                )
            pair[0].inc()
            pair[1].observe(attempt.now() - attempt.started)

        def invoke(attempt: Attempt) -> Any:
            try:
                result = inner(attempt)
            except Skip:
                record(attempt, "skipped")
                raise
            except Exception as exc:
                record(attempt, _outcome(exc, attempt))
                raise
            record(attempt, "ok")
            return result

        return invoke

    def on_event(self, event: object) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    # ------------------------------------------------------------ events

    def _failed_over(self, event: FailedOver) -> None:
        self._families.failovers.labels(self.facade, event.from_target, event.target).inc()

    def _failed_back(self, event: FailedBack) -> None:
        self._families.failbacks.labels(self.facade, event.target).inc()

    def _panic_mode(self, event: PanicMode) -> None:
        self._panic = event.entered
        if event.entered:
            self._families.panics.labels(self.facade).inc()

    def _hedged(self, event: Hedged) -> None:
        self._families.hedges.labels(self.facade, event.target, event.operation).inc()

    def _hedge_won(self, event: HedgeWon) -> None:
        self._families.hedges_won.labels(self.facade, event.target, event.operation).inc()

    def _retried(self, event: Retried) -> None:
        self._families.retries.labels(self.facade, event.target, event.operation, event.kind).inc()

    def _retry_refused(self, event: RetryRefused) -> None:
        self._families.retries_refused.labels(self.facade, event.target, event.operation).inc()

    def _transition(self, event: BreakerTransition) -> None:
        # A split breaker is named "target/read" or "target/write": labelled as the gauges are.
        target, _, kind = event.target.partition("/")
        self._breakers[target, kind or "all"] = event.new
        self._families.transitions.labels(self.facade, target, kind or "all", event.new).inc()

    def _health(self, event: HealthChanged) -> None:
        self._healthy[event.target] = event.healthy

    def _quarantined(self, event: RepairQuarantined) -> None:
        self._families.quarantined.labels(self.facade, event.target).inc()  # the key stays out

    def _published(self, event: DnsPublished) -> None:
        self._families.dns_publishes.labels(self.facade, event.target).inc()

    # ------------------------------------------------------------ scrape

    def read(self) -> Reading | None:
        """The gauges' values now: from the facade's status when attached (None once the
        facade is gone), else from the events heard."""
        if self._facade is None:
            heard = Reading(self.facade, panic=self._panic)
            heard.breakers = [(t, kind, state) for (t, kind), state in sorted(self._breakers.items())]
            heard.healthy = sorted(self._healthy.items())
            return heard
        facade = self._facade()
        if facade is None:
            return None
        try:
            return self._read(facade)
        except Exception:  # one broken facade must not fail the scrape of the others
            logger.exception("metrics: reading the status of %s failed", self.facade)
            return None

    def _read(self, facade: Any) -> Reading:
        status = facade.status()
        reading = Reading(self.facade, panic=status.panic)
        for row in status.targets:
            reading.breakers.extend((row.name, name, state) for name, state in row.breakers.items())
            reading.healthy.append((row.name, row.healthy))
            reading.roles.append((row.name, row.role))
        replication = getattr(facade, "replication", None)
        if replication is not None:
            owed = replication.journal.backlog()
            now = self._time_ns()
            for row in status.targets:
                b = owed.get(row.name)
                if b is None:
                    reading.backlog.append((row.name, 0, 0, 0.0, 0))
                    continue
                age = max(0, now - timestamp_of(b.oldest)) / 1e9 if b.oldest else 0.0
                reading.backlog.append((row.name, b.rows, b.bytes, age, b.quarantined))
        return reading


__all__ = ["ATTEMPT_LABELS", "BUCKETS", "GAUGES", "MetricsUnavailable", "PrometheusMetrics"]
