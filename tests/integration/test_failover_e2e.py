"""End-to-end failover on real local servers: S3 (moto) primary, Azure Blob (Azurite), GCS (fake-gcs).

Each test runs a paced loop of reads and writes through one `FailoverStorage`, breaks the
primary for real in the middle (SIGKILL of its server, a blackholing proxy, a proxy that
answers 503), checks that no call failed and that traffic moved to Azure, then heals
the primary and checks that traffic comes back after the failback hysteresis.

The primary runs on its own moto process (module-scoped), so killing it cannot hurt the
tests that share the session's servers; Azurite and fake-gcs-server are the session's.
Which target served a call is read from three independent places: the router's events,
`status()` call counts, and which cloud the loop's new objects landed on.

Assertions are about behaviour; the only timing assertions are the hysteresis as a
lower bound and generous upper bounds far from the values that would mean a bug.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, policies
from failover.errors import FailoverError, NotFound, Throttled
from failover.events import BreakerTransition, Event, FailedBack, FailedOver
from failover.providers.aws import S3Store
from failover.providers.azure import BlobStore
from failover.providers.gcp import GCSStore, emulator_client
from failover.testing.proxy import TcpProxy
from tests.integration import servers
from tests.integration.servers import LocalServer, ServerError

pytestmark = pytest.mark.integration

AWS, AZURE, GCP = "aws:us-east-1", "azure:westeurope", "gcp:europe-west1"
SEEDED = {f"seed/{i:02d}": f"seeded object {i} ".encode() * (i + 1) for i in range(12)}
SEED_KEYS = sorted(SEEDED)
FAILBACK_AFTER = 1.0
# Short open times so that trial calls, and so recovery, happen within a test's seconds.
BREAKER = BreakerConfig(consecutive_failures=3, open_base=0.2, open_max=0.4, jitter=0.1)
PACE = 0.005  # between operations: steady traffic, not a busy loop
MAX_OPS = 400  # per phase at most: every loop here is bounded
# A multiple of 4 (every 4th operation is a write), so the outage starts with three reads:
# the reads that open the breaker, which the blackhole tests time.
HEALTHY_OPS = 40


# ---------------------------------------------------------------- servers and clouds


@pytest.fixture(scope="module")
def primary(loopback_env: None) -> Iterator[LocalServer]:
    """A moto process of our own: these tests SIGKILL it."""
    server = servers.moto("moto-e2e-primary")
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.fail(f"could not start the primary's moto: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@dataclass
class Clouds:
    """One bucket or container per cloud, the same seeded objects in each, and direct adapters."""

    primary: LocalServer
    bucket: str
    aws: S3Store  # straight to the primary's server: for seeding and inspection, not routed
    azure: BlobStore
    gcp: GCSStore

    def seed_aws(self) -> None:
        """(Re)create the primary's bucket and objects: a restarted moto comes back empty."""
        servers.raw_s3_client(self.primary).create_bucket(Bucket=self.bucket)
        for key, data in SEEDED.items():
            self.aws.put(key, data)

    def s3(self, endpoint: str, **timeouts: float) -> S3Store:
        return S3Store(self.bucket, region="us-east-1", endpoint_url=endpoint, **timeouts)

    def storage(self, aws: S3Store, execution: ExecutionConfig, recorder: Recorder) -> FailoverStorage:
        return FailoverStorage(
            [Target(AWS, aws, priority=0), Target(AZURE, self.azure, priority=1), Target(GCP, self.gcp, priority=2)],
            policy=policies.Priority(),
            failback_after=FAILBACK_AFTER,
            breaker=BREAKER,
            execution=execution,
            listeners=[recorder],
        )

    def holders(self, key: str) -> set[str]:
        """Which clouds hold ``key`` (asked of each adapter directly; AWS only while its server runs)."""
        found = set()
        for name, store in ((AWS, self.aws), (AZURE, self.azure), (GCP, self.gcp)):
            if name == AWS and not self.primary.running():
                continue
            try:
                store.head(key)
            except NotFound:
                continue
            found.add(name)
        return found


@pytest.fixture
def clouds(primary: LocalServer, azurite: LocalServer, fake_gcs: LocalServer) -> Clouds:
    servers.alive(primary)
    azurite, fake_gcs = servers.alive(azurite), servers.alive(fake_gcs)
    bucket = servers.unique("e2e")
    servers.raw_blob_service(azurite).create_container(bucket)
    servers.raw_gcs_client(fake_gcs).create_bucket(bucket)
    made = Clouds(
        primary=primary,
        bucket=bucket,
        aws=S3Store(bucket, region="us-east-1", endpoint_url=primary.endpoint),
        azure=BlobStore(container=bucket, connection_string=servers.azurite_connection_string(azurite)),
        gcp=GCSStore(bucket, client=emulator_client(fake_gcs.endpoint)),
    )
    made.seed_aws()
    for key, data in SEEDED.items():  # the same objects everywhere, written by each adapter
        made.azure.put(key, data)
        made.gcp.put(key, data)
    return made


# ---------------------------------------------------------------- traffic


@dataclass
class Recorder:
    """Every event, stamped with the operation during which it happened and the time."""

    op: int = 0
    events: list[tuple[int, float, Event]] = field(default_factory=list)

    def on_event(self, event: Event) -> None:
        self.events.append((self.op, time.monotonic(), event))

    def find(self, match: Callable[[Event], bool], after_op: int = 0) -> tuple[int, float, Event] | None:
        return next((e for e in list(self.events) if e[0] >= after_op and match(e[2])), None)


@dataclass
class Traffic:
    """The application: reads of seeded objects and writes of new ones, one at a time."""

    store: FailoverStorage
    recorder: Recorder
    op: int = 0
    errors: list[str] = field(default_factory=list)
    writes: list[tuple[int, str]] = field(default_factory=list)
    reads: list[tuple[int, float]] = field(default_factory=list)  # (op, seconds)
    slowest: float = 0.0

    def step(self) -> None:
        i = self.op
        self.recorder.op = i
        began = time.monotonic()
        try:
            if i % 4 == 3:
                key = f"loop/{i:04d}"
                self.store.put(key, key.encode() * 8)
                self.writes.append((i, key))
            else:
                key = SEED_KEYS[i % len(SEED_KEYS)]
                if self.store.get(key) != SEEDED[key]:
                    self.errors.append(f"op {i}: wrong bytes for {key}")
                self.reads.append((i, time.monotonic() - began))
        except FailoverError as exc:
            self.errors.append(f"op {i}: {exc!r}")
        self.slowest = max(self.slowest, time.monotonic() - began)
        self.op += 1
        time.sleep(PACE)

    def run(self, ops: int) -> range:
        start = self.op
        for _ in range(ops):
            self.step()
        return range(start, self.op)

    def run_until(self, done: Callable[[], bool], then: int = 30) -> range:
        """Run until ``done()`` (at most MAX_OPS operations), then ``then`` more."""
        start = self.op
        while not done() and self.op - start < MAX_OPS:
            self.step()
        self.run(then)
        return range(start, self.op)

    def writes_in(self, ops: range) -> list[str]:
        return [key for i, key in self.writes if i in ops]

    def reads_in(self, ops: range) -> list[float]:
        return [seconds for i, seconds in self.reads if i in ops]


def calls(store: FailoverStorage) -> dict[str, tuple[int, int]]:
    """(calls, errors) per target, from status()."""
    return {row.name: (row.calls, row.errors) for row in store.status().targets}


def delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], name: str) -> tuple[int, int]:
    return after[name][0] - before[name][0], after[name][1] - before[name][1]


def is_failover(event: Event) -> bool:
    return isinstance(event, FailedOver) and event.from_target == AWS and event.to_target == AZURE


def is_failback(event: Event) -> bool:
    return isinstance(event, FailedBack) and event.target == AWS


def is_closed(event: Event) -> bool:
    return isinstance(event, BreakerTransition) and event.target == AWS and event.new == "closed"


def drill(
    clouds: Clouds,
    traffic: Traffic,
    *,
    break_primary: Callable[[], None],
    heal_primary: Callable[[], None],
    outage_ops: int = 80,
) -> dict[str, Any]:
    """Healthy traffic, break the primary, traffic on Azure, heal, traffic back on AWS.

    Returns what the caller may check further (the outage's operations and reads).
    """
    store, recorder = traffic.store, traffic.recorder

    healthy = traffic.run(HEALTHY_OPS)
    assert traffic.errors == []
    for key in traffic.writes_in(healthy):
        assert clouds.holders(key) == {AWS}, f"{key} written while healthy"
    assert store.status()[AWS].role == "preferred"

    # A hedged read may have left an attempt in flight: let it land before counting.
    time.sleep(0.5)
    before = calls(store)
    break_primary()
    outage = traffic.run(outage_ops)
    after = calls(store)
    assert traffic.errors == [], "client-visible errors during the outage"
    assert recorder.find(is_failover, after_op=outage.start), "no FailedOver(aws -> azure) event"
    aws_calls, aws_errors = delta(before, after, AWS)
    assert aws_errors >= BREAKER.consecutive_failures
    assert aws_calls == aws_errors, "the broken primary served a call"
    azure_calls, _ = delta(before, after, AZURE)
    assert azure_calls >= 0.9 * len(outage), f"azure served {azure_calls} of {len(outage)} calls"
    # (Not status()'s roles here: an open breaker that is due for a trial call puts AWS
    # first in the plan, which status() reports as "preferred"; the breaker says more.)
    status = store.status()
    assert status[AWS].breaker in ("open", "half_open"), str(status)
    outage_writes = traffic.writes_in(outage)
    assert outage_writes
    for key in outage_writes:
        assert clouds.holders(key) - {AWS} == {AZURE}, f"{key} written during the outage"

    healed_at = time.monotonic()
    heal_primary()
    recovery = traffic.run_until(lambda: recorder.find(is_failback, after_op=outage.stop) is not None)
    assert traffic.errors == [], "client-visible errors during recovery"
    failback = recorder.find(is_failback, after_op=outage.stop)
    assert failback is not None, f"no failback within {MAX_OPS} operations: {store.status()}"
    # The last time AWS's breaker closed before traffic came back.
    closings = [e for e in recorder.events if e[0] >= outage.stop and e[1] <= failback[1] and is_closed(e[2])]
    assert closings, "traffic came back to AWS without its breaker closing"
    closed = closings[-1]
    # The hysteresis: the breaker closed on a trial call, then AWS waited failback_after.
    assert failback[1] - closed[1] >= FAILBACK_AFTER * 0.95
    assert failback[1] - healed_at < FAILBACK_AFTER + 10.0
    settling = traffic.writes_in(range(closed[0] + 1, failback[0]))
    assert settling, "no write while AWS was settling: the hysteresis window was not exercised"
    for key in settling:
        assert clouds.holders(key) - {AWS} == {AZURE}, f"{key} written before the hysteresis ended"
    back = traffic.writes_in(range(failback[0] + 1, recovery.stop))
    assert back
    for key in back:
        assert clouds.holders(key) == {AWS}, f"{key} written after failback"
    status = store.status()
    assert status[AWS].role == "preferred" and status[AWS].breaker == "closed", str(status)
    return {"outage": outage, "outage_reads": traffic.reads_in(outage)}


# ---------------------------------------------------------------- the tests


def test_sigkill_of_the_primary_fails_over_and_back(clouds: Clouds) -> None:
    recorder = Recorder()
    store = clouds.storage(
        clouds.s3(clouds.primary.endpoint), ExecutionConfig(attempt_timeout=2.0, deadline=10.0), recorder
    )
    traffic = Traffic(store, recorder)

    def restart() -> None:
        clouds.primary.restart()  # same port; moto keeps no state across a restart...
        clouds.seed_aws()  # ...so put back what the region would still have held

    with store:
        drill(clouds, traffic, break_primary=clouds.primary.kill, heal_primary=restart)
    # A refused port fails fast: no call waited anywhere near the attempt timeout.
    assert traffic.slowest < 1.0


BLACKHOLE_VARIANTS = {
    # Sequential attempts; the SDK's own socket timeouts bound the blackholed one.
    "sdk-timeouts": ({"connect_timeout": 0.3, "read_timeout": 0.3}, ExecutionConfig(attempt_timeout=0.3)),
    # The same, and reads hedged on Azure after 50 ms.
    "hedged": (
        {"connect_timeout": 0.3, "read_timeout": 0.3},
        ExecutionConfig(attempt_timeout=0.3, hedge_after=0.05),
    ),
    # The SDK's default 5 s read timeout; the executor enforces the 0.3 s attempt timeout.
    "enforced": ({}, ExecutionConfig(attempt_timeout=0.3, enforce_timeouts=True)),
}


@pytest.mark.parametrize("variant", sorted(BLACKHOLE_VARIANTS))
def test_blackholed_primary_fails_over_and_back(clouds: Clouds, variant: str) -> None:
    timeouts, execution = BLACKHOLE_VARIANTS[variant]
    recorder = Recorder()
    with TcpProxy(clouds.primary.port) as proxy:
        store = clouds.storage(clouds.s3(proxy.endpoint, **timeouts), execution, recorder)
        traffic = Traffic(store, recorder)
        with store:
            result = drill(clouds, traffic, break_primary=proxy.blackhole, heal_primary=proxy.pass_through)
        assert proxy.stats.blackholed_chunks >= BREAKER.consecutive_failures
    assert store.status()[AWS].last_error == "timeout"
    # The blackholed S3 client would wait 5 s a read by default: no call came close.
    assert traffic.slowest < 2.0
    # Without hedging, the reads that open the breaker (the outage's first operations
    # are reads) each wait out the attempt timeout; with hedging, Azure answers first.
    # One slow read is tolerated (a loaded machine), not the breaker's worth of them.
    assert execution.attempt_timeout is not None
    slow = [s for s in result["outage_reads"] if s >= execution.attempt_timeout]
    if variant == "hedged":
        assert len(slow) < BREAKER.consecutive_failures, f"{len(slow)} hedged reads waited for the blackhole"
    else:
        assert len(slow) >= BREAKER.consecutive_failures, f"only {len(slow)} reads met the blackhole"


def test_throttling_primary_fails_over_and_back(clouds: Clouds) -> None:
    recorder = Recorder()
    with TcpProxy(clouds.primary.port) as proxy:
        aws = clouds.s3(proxy.endpoint)
        store = clouds.storage(aws, ExecutionConfig(attempt_timeout=2.0, deadline=10.0), recorder)
        traffic = Traffic(store, recorder)

        def throttle() -> None:
            proxy.http_503()
            # The adapter maps the 503 to Throttled and keeps its Retry-After.
            with pytest.raises(Throttled) as caught:
                aws.get(SEED_KEYS[0])
            assert caught.value.retry_after == 1.0

        with store:
            drill(clouds, traffic, break_primary=throttle, heal_primary=proxy.pass_through)
        assert proxy.stats.answered_503 >= BREAKER.consecutive_failures + 1
    assert store.status()[AWS].last_error == "throttled"
    assert traffic.slowest < 1.0
