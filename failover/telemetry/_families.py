"""The ``failover_*`` metric families of one Prometheus registry: the counters and the
latency histogram that instruments feed as calls happen, the gauges filled from their facades
at each scrape, and the collector that registers them once per registry, shared by every
`PrometheusMetrics` there and told apart by the ``facade`` label.  It stands apart from the
instrument because it is what a scrape shows (names, help texts, labels, buckets) and nothing
of how attempts and events reach it; docs/metrics.md lists the same families.  Imported by
`failover.telemetry.metrics` once it has checked that prometheus_client is installed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from failover.breaker.circuit import BreakerState
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.telemetry.metrics import PrometheusMetrics

# Cloud calls take milliseconds when well and up to tens of seconds when not (timeouts).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ATTEMPT_LABELS = ("facade", "target", "operation", "outcome")
BREAKER_STATES = tuple(state.value for state in BreakerState)
ROLES = ("preferred", "standby", "drained", "down", "panic")
# The attribute of a registry holding its failover families: shared by the instruments
# registered there, found through the registry itself rather than a module-level table.
_FAMILIES = "_failover_metrics"


class Families(Collector):
    """The ``failover_*`` families of one registry: counters fed by every instrument on it,
    and the gauges each scrape reads from the instruments' facades."""

    def __init__(self) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, registry=None)  # registered once, through this collector

        self.attempts = counter("failover_attempts", "Attempts on one target, by outcome.", ATTEMPT_LABELS)
        self.duration = Histogram(
            "failover_attempt_duration_seconds",
            "Time an attempt on one target took, by outcome.",
            ATTEMPT_LABELS,
            buckets=BUCKETS,
            registry=None,
        )
        self.failovers = counter(
            "failover_failovers", "Traffic left its preferred target for another.", ("facade", "from_target", "target")
        )
        self.failbacks = counter("failover_failbacks", "Traffic returned to a better target.", ("facade", "target"))
        self.panics = counter("failover_panics", "Times every target looked down (panic mode entered).", ("facade",))
        self.hedges = counter(
            "failover_hedges", "Hedged attempts sent to a target beside a slow one.", ("facade", "target", "operation")
        )
        self.hedges_won = counter(
            "failover_hedges_won", "Hedged attempts that answered first.", ("facade", "target", "operation")
        )
        self.retries = counter(
            "failover_retries",
            "Calls retried on a target after a failure on another, by the failure's kind.",
            ("facade", "target", "operation", "error"),
        )
        self.retries_refused = counter(
            "failover_retries_refused",
            "Retries the retry budget refused after a failure on the target.",
            ("facade", "target", "operation"),
        )
        self.transitions = counter(
            "failover_breaker_transitions",
            "Breaker state changes, by state entered.",
            ("facade", "target", "breaker", "state"),
        )
        self.quarantined = counter(
            "failover_repairs_quarantined", "Repairs a target refused for good.", ("facade", "target")
        )
        self.dns_publishes = counter(
            "failover_dns_publishes", "DNS record changes written to a DNS provider.", ("facade", "target")
        )
        self.sources: weakref.WeakValueDictionary[str, PrometheusMetrics] = weakref.WeakValueDictionary()
        self.lock = threading.Lock()

    def counted(self) -> tuple[Counter | Histogram, ...]:
        return (
            self.attempts,
            self.duration,
            self.failovers,
            self.failbacks,
            self.panics,
            self.hedges,
            self.hedges_won,
            self.retries,
            self.retries_refused,
            self.transitions,
            self.quarantined,
            self.dns_publishes,
        )

    def claim(self, label: str, instrument: PrometheusMetrics) -> None:
        """Reserve ``label`` for ``instrument``: two facades with one label would report the
        same gauge series twice, which a scrape rejects."""
        with self.lock:
            holder = self.sources.get(label)
            if holder is not None and holder is not instrument:
                raise ConfigError(
                    f"facade={label!r} is already used by another PrometheusMetrics on this registry; "
                    "give each facade its own facade label"
                )
            self.sources[label] = instrument

    def describe(self) -> Iterable[Metric]:
        # Names only, so the registry can refuse a clash without running a scrape.
        for metric in self.counted():
            yield from metric.describe()
        for name, doc, labels in GAUGES:
            yield GaugeMetricFamily(name, doc, labels=labels)

    def collect(self) -> Iterable[Metric]:
        for metric in self.counted():
            yield from metric.collect()
        with self.lock:
            sources = sorted(self.sources.items())
        yield from gauges(reading for _, instrument in sources if (reading := instrument.read()) is not None)


GAUGES = (
    ("failover_breaker_state", "1 for the breaker's state, 0 for others.", ("facade", "target", "breaker", "state")),
    ("failover_target_healthy", "1 if the target's health checks say it is up.", ("facade", "target")),
    ("failover_target_role", "1 for the target's current role, 0 for the others.", ("facade", "target", "role")),
    ("failover_panic", "1 while every target looks down and calls try all of them.", ("facade",)),
    ("failover_replication_backlog_rows", "Writes the target owes (kept in the repair journal).", ("facade", "target")),
    ("failover_replication_backlog_bytes", "Bytes of the payloads the journal holds for them.", ("facade", "target")),
    ("failover_replication_backlog_age_seconds", "Age of the oldest write the target owes.", ("facade", "target")),
    ("failover_replication_quarantined_rows", "Owed writes the target refused for good.", ("facade", "target")),
)


@dataclass
class Reading:
    """What one instrument's facade says at scrape time."""

    facade: str
    breakers: list[tuple[str, str, str]] = field(default_factory=list)  # target, breaker, state
    healthy: list[tuple[str, bool]] = field(default_factory=list)
    roles: list[tuple[str, str]] = field(default_factory=list)
    panic: bool | None = None
    backlog: list[tuple[str, int, int, float, int]] = field(default_factory=list)  # target, rows, bytes, age, q


def gauges(readings: Iterable[Reading]) -> Iterator[Metric]:
    families = {name: GaugeMetricFamily(name, doc, labels=labels) for name, doc, labels in GAUGES}
    breaker, healthy, role, panic, rows, size, age, held = families.values()
    for reading in readings:
        f = reading.facade
        for target, name, state in reading.breakers:
            for known in BREAKER_STATES:
                breaker.add_metric([f, target, name, known], 1.0 if known == state else 0.0)
        for target, up in reading.healthy:
            healthy.add_metric([f, target], 1.0 if up else 0.0)
        for target, current in reading.roles:
            for known in ROLES:
                role.add_metric([f, target, known], 1.0 if known == current else 0.0)
        if reading.panic is not None:
            panic.add_metric([f], 1.0 if reading.panic else 0.0)
        for target, owed, owed_bytes, oldest, quarantined in reading.backlog:
            rows.add_metric([f, target], owed)
            size.add_metric([f, target], owed_bytes)
            age.add_metric([f, target], oldest)
            held.add_metric([f, target], quarantined)
    yield from families.values()


def families_of(registry: CollectorRegistry) -> Families:
    """The registry's failover families, registered on first use."""
    known: Families | None = vars(registry).get(_FAMILIES)
    if known is not None:
        return known
    fresh = Families()
    found: Families = vars(registry).setdefault(_FAMILIES, fresh)  # atomic: one instance wins
    if found is fresh:
        try:
            registry.register(fresh)
        except ValueError as exc:  # the registry already has collectors of these names
            vars(registry).pop(_FAMILIES, None)
            raise ConfigError(f"registry: cannot register the failover_* metrics ({exc})") from exc
    return found


__all__ = [
    "ATTEMPT_LABELS",
    "BREAKER_STATES",
    "BUCKETS",
    "GAUGES",
    "ROLES",
    "Families",
    "Reading",
    "families_of",
    "gauges",
]
