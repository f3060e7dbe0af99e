"""failover.aio.FailoverStorage: the sync facade's rules, awaited, on virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from failover import BreakerConfig, ExecutionConfig, FakeClock, Target
from failover import FailoverStorage as SyncStorage
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.breaker.circuit import BreakerState
from failover.capabilities import ObjectInfo
from failover.errors import (
    AllTargetsFailed,
    ConfigError,
    InvalidInput,
    NotFound,
    NotFoundUnconfirmed,
    Timeout,
    Unavailable,
)
from failover.layers import Observe
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.replication import Primary

R = TypeVar("R")


class Scripted(AsyncMemoryObjectStore):
    """An async memory store that fails, hangs or is slow on demand, and counts calls."""

    def __init__(self, store: MemoryObjectStore | None = None) -> None:
        super().__init__(store)
        self.fail: Exception | None = None
        self.delay = 0.0  # seconds of loop time before answering
        self.calls = 0
        self.cancelled = 0  # attempts stopped where they stood
        self.list_fails_after: int | None = None

    async def _step(self) -> None:
        self.calls += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail is not None:
            raise self.fail

    async def get(self, key: str) -> bytes:
        await self._step()
        return await super().get(key)

    async def head(self, key: str) -> ObjectInfo:
        await self._step()
        return await super().head(key)

    async def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
        await self._step()
        return await super().put(key, data, **options)

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        await self._step()
        for n, info in enumerate(self.store.list(prefix)):
            if self.list_fails_after is not None and n >= self.list_fails_after:
                raise Unavailable("connection reset while listing")
            yield info


def pair(**options: Any) -> tuple[FailoverStorage, Scripted, Scripted, FakeClock]:
    clock = FakeClock()
    a, b = Scripted(), Scripted()
    targets = [Target("aws:one", a, priority=0), Target("aws:two", b, priority=1)]
    return FailoverStorage(targets, clock=clock, **options), a, b, clock


def virtual(clock: FakeClock, main: Callable[[], Coroutine[Any, Any, R]]) -> R:
    return run(main(), clock)


def test_reads_and_writes_go_to_the_preferred_target() -> None:
    storage, a, b, clock = pair()

    async def main() -> None:
        info = await storage.put("k", b"hello", content_type="text/plain", metadata={"m": "1"})
        assert (await storage.head("k")).etag == info.etag
        assert await storage.get("k") == b"hello"
        assert await storage.get_range("k", 1, 3) == b"el"
        await storage.copy("k", "k2")
        assert [i.key async for i in storage.list()] == ["k", "k2"]
        await storage.delete("k")
        with pytest.raises(NotFound):
            await storage.get("k")

    virtual(clock, main)
    assert b.calls == 0 and a.store.get("k2") == b"hello"


def test_a_temporary_error_fails_over_and_counts_against_the_target() -> None:
    storage, a, b, clock = pair()
    a.store.put("k", b"old")
    b.store.put("k", b"new")
    a.fail = Unavailable("503")

    assert virtual(clock, lambda: storage.get("k")) == b"new"
    assert storage.pool.healths["aws:one"].errors.value == 1
    assert storage.pool.healths["aws:two"].calls.value == 1


def test_not_found_is_the_preferred_targets_answer_and_unconfirmed_when_it_is_down() -> None:
    storage, a, _, clock = pair()
    with pytest.raises(NotFound) as found:
        virtual(clock, lambda: storage.get("missing"))
    assert not isinstance(found.value, NotFoundUnconfirmed)
    a.fail = Unavailable("503")
    with pytest.raises(NotFoundUnconfirmed) as unconfirmed:
        virtual(clock, lambda: storage.get("missing"))
    assert unconfirmed.value.unreachable == ("aws:one",)


def test_an_unrecognised_exception_propagates_unchanged_and_is_not_counted() -> None:
    storage, a, _, clock = pair()
    a.fail = KeyError("bug")
    with pytest.raises(KeyError):
        virtual(clock, lambda: storage.get("k"))
    assert storage.pool.healths["aws:one"].errors.value == 0


def test_an_attempt_that_hangs_is_cancelled_at_the_attempt_timeout_and_the_next_target_answers() -> None:
    storage, a, b, clock = pair(execution=ExecutionConfig(attempt_timeout=2.0))
    b.store.put("k", b"v")
    a.delay = 3600.0
    started = clock.monotonic()

    assert virtual(clock, lambda: storage.get("k")) == b"v"
    assert clock.monotonic() - started == pytest.approx(2.0)
    assert a.cancelled == 1
    assert storage.pool.healths["aws:one"].last_error == "timeout"


def test_the_deadline_bounds_the_whole_call() -> None:
    storage, a, b, clock = pair(execution=ExecutionConfig(attempt_timeout=4.0, deadline=5.0))
    a.delay = b.delay = 3600.0
    started = clock.monotonic()
    with pytest.raises(AllTargetsFailed) as failed:
        virtual(clock, lambda: storage.get("k"))
    assert clock.monotonic() - started == pytest.approx(5.0)
    assert [type(e) for e in failed.value.attempts] == [Timeout, Timeout]
    assert (a.cancelled, b.cancelled) == (1, 1)


def test_a_caller_that_cancels_stops_the_attempt_and_gives_the_trial_permit_back() -> None:
    storage, a, _, clock = pair(breaker=BreakerConfig(consecutive_failures=1, jitter=0.0))
    a.store.put("k", b"v")
    a.fail = Unavailable("503")
    with pytest.raises(NotFoundUnconfirmed):
        virtual(clock, lambda: storage.get("k"))  # a's breaker opens; b has no copy
    breaker = storage.pool.member("aws:one").breaker
    assert breaker.state is BreakerState.OPEN
    clock.advance(10.0)  # due for a trial call
    a.fail, a.delay = None, 3600.0

    async def main() -> None:
        call = asyncio.ensure_future(storage.get("k"))
        await asyncio.sleep(1.0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    virtual(clock, main)
    assert a.cancelled == 1
    a.delay = 0.0
    assert virtual(clock, lambda: storage.get("k")) == b"v"  # the permit came back: the trial is made
    assert breaker.state is BreakerState.CLOSED  # type: ignore[comparison-overlap]


def test_a_listing_that_fails_midway_resumes_on_the_next_target_past_the_last_key() -> None:
    storage, a, b, clock = pair()
    for store in (a.store, b.store):
        for key in ("a", "b", "c"):
            store.put(key, b"x")
    a.list_fails_after = 2

    async def main() -> list[str]:
        return [info.key async for info in storage.list()]

    assert virtual(clock, main) == ["a", "b", "c"]
    assert storage.pool.healths["aws:one"].errors.value == 1


def test_bad_input_is_refused_before_any_target_is_called() -> None:
    storage, a, _, clock = pair()
    for bad in (lambda: storage.get(""), lambda: storage.put("k", "text")):  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            virtual(clock, bad)
    with pytest.raises(InvalidInput):
        storage.list(3)  # type: ignore[arg-type]
    assert a.calls == 0


def test_a_bad_key_is_refused_on_every_async_read_and_a_good_one_is_remembered() -> None:
    storage, a, _, clock = pair()
    for _ in range(3):
        for bad in (lambda: storage.get("reports/./q3"), lambda: storage.head("trailing.")):
            with pytest.raises(InvalidInput):
                virtual(clock, bad)
    assert a.calls == 0 and not storage._checked_keys
    with pytest.raises(NotFound):
        virtual(clock, lambda: storage.head("reports/q3"))
    assert storage._checked_keys == {"reports/q3"}


# ---------------------------------------------------------------- sync and async together


def shared(**options: Any) -> tuple[SyncStorage, FailoverStorage, Scripted, Scripted, FakeClock]:
    clock = FakeClock()
    one, two = MemoryObjectStore(), MemoryObjectStore()
    sync = SyncStorage([Target("aws:one", one), Target("aws:two", two, priority=1)], clock=clock, **options)
    a, b = Scripted(one), Scripted(two)
    return sync, FailoverStorage.sharing(sync, {"aws:one": a, "aws:two": b}), a, b, clock


def test_a_sync_and_an_async_facade_share_one_breaker_per_target() -> None:
    sync, aio, a, _, clock = shared(breaker=BreakerConfig(consecutive_failures=2, jitter=0.0))
    sync.put("k", b"v")  # on aws:one
    sync.pool.targets[1].provider.put("k", b"v")
    a.fail = Unavailable("503")
    for _ in range(2):
        assert virtual(clock, lambda: aio.get("k")) == b"v"

    # The async calls opened the breaker the sync facade routes by.
    assert sync.pool.member("aws:one").breaker.state is BreakerState.OPEN
    assert sync.status()["aws:one"].breakers == {"all": "open"}
    assert aio.status() == sync.status()
    a.fail, tried = None, a.calls
    assert virtual(clock, lambda: aio.get("k")) == b"v"
    assert a.calls == tried  # skipped behind the open breaker
    sync.force_open("aws:two", "maintenance")  # the sync side's maintenance holds for the async side
    assert aio.status()["aws:two"].breakers == {"all": "forced_open"}


def test_both_facades_spend_one_retry_budget() -> None:
    sync, aio, _, _, _ = shared()
    executors = {aio._aread.executor, aio._awrite.executor}
    assert executors == set(sync.pool.executors.values())


def test_sharing_checks_its_arguments() -> None:
    sync, _, a, _, _ = shared()
    with pytest.raises(ConfigError, match="providers must name exactly"):
        FailoverStorage.sharing(sync, {"aws:one": a})
    with pytest.raises(ConfigError, match=r"providers\['aws:two'\]: put must be async"):
        FailoverStorage.sharing(sync, {"aws:one": a, "aws:two": MemoryObjectStore()})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="must be a sync FailoverStorage"):
        FailoverStorage.sharing(object(), {})  # type: ignore[arg-type]


def test_a_facade_with_writes_is_shared_with_its_replication(tmp_path: Path) -> None:
    _, _, a, b, clock = shared()
    providers: Mapping[str, Any] = {"aws:one": a, "aws:two": b}
    replicated = SyncStorage(
        [Target("aws:one", a.store), Target("aws:two", b.store)],
        writes=Primary(journal=tmp_path / "j.sqlite"),
        execution=ExecutionConfig(),
        clock=clock,
    )
    try:
        aio = FailoverStorage.sharing(replicated, providers)
        assert aio.replication is replicated.replication
        virtual(clock, lambda: aio.put("k", b"v"))
        assert replicated.pending() == {"aws:two": 1}  # the async write, in the sync facade's journal
    finally:
        replicated.close()


def test_the_async_facade_refuses_sync_providers_and_layers() -> None:
    with pytest.raises(ConfigError, match=r"targets\[0\].provider: put must be async"):
        FailoverStorage([Target("aws:one", MemoryObjectStore())])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="layers"):
        FailoverStorage(
            [Target("aws:one", AsyncMemoryObjectStore())],
            execution=ExecutionConfig(layers=(Observe(lambda *_: None),)),
        )


def test_async_with_starts_and_closes_a_facade_that_owns_its_pool() -> None:
    storage, _, _, clock = pair()

    async def main() -> FailoverStorage:
        async with storage as opened:
            await opened.put("k", b"v")
        return opened

    assert virtual(clock, main) is storage
