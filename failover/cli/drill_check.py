"""What the drill wrote, what it must read back, and the final check that nothing was lost.

`Ledger` keeps, for every key the drill wrote, the values a read may return: the last
acknowledged write's, plus those of writes that failed afterwards (a failed write may or
may not have landed; ``None`` stands for "absent" when the key had no acknowledged write).
Every acknowledged write is queued for a read, so the drill reads back **every** key it
wrote, not only a seeded dataset.

`final_check` runs once the faults are healed: it lets the store repair what the
targets owe, then reads every written key on every target directly (the environment's
own client: the memory store, or each cloud's SDK) and once through the store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from failover.clock import Clock
from failover.errors import FailoverError
from failover.facades.storage import FailoverStorage

Acceptable = frozenset[bytes | None]


@dataclass
class Ledger:
    expected: dict[str, Acceptable] = field(default_factory=dict)
    acknowledged: int = 0  # write calls that returned success
    failed: int = 0  # write calls that raised
    unread: deque[str] = field(default_factory=deque)
    read_back: int = 0  # reads that took a key off the queue

    def written(self, key: str, data: bytes) -> None:
        self.acknowledged += 1
        self.expected[key] = frozenset({data})
        self.unread.append(key)

    def write_failed(self, key: str, data: bytes) -> None:
        self.failed += 1
        self.expected[key] = self.expected.get(key, frozenset({None})) | {data}

    def next_read(self, fallback: Callable[[], str]) -> tuple[str, bool]:
        """The oldest written key not read yet, else ``fallback()``; and whether it was queued."""
        if self.unread:
            return self.unread.popleft(), True
        return fallback(), False

    def matches(self, key: str, data: bytes | None, dataset: dict[str, bytes]) -> bool:
        if key in self.expected:
            return data in self.expected[key]
        return data == dataset.get(key)


@dataclass(frozen=True)
class WriteCheck:
    """The final verdict on the written data."""

    acknowledged: int  # write calls acknowledged during the drill
    keys: int  # distinct keys written
    targets: int
    copies_checked: int  # keys x targets, each read directly on its target
    lost: int  # keys whose acknowledged value is on no target
    missing_copies: int  # (target, key) pairs without the acknowledged value
    read_back: int  # keys read back through the store at the end and matched
    repair_passes: int
    still_owed: int  # rows the journal still held after the repair passes
    examples: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.missing_copies == 0 and self.read_back == self.keys and self.still_owed == 0


def converge(store: FailoverStorage, clock: Clock, *, passes: int = 60, pause: float = 0.5) -> tuple[int, int]:
    """Repair passes until nothing is owed (or ``passes`` ran): (passes, rows still owed)."""
    for done in range(1, passes + 1):
        store.repair()
        owed = sum(store.pending().values())
        if not owed:
            return done, 0
        clock.sleep(pause)  # a repair waits out the grace of writes that timed out
    return passes, sum(store.pending().values())


def final_check(
    store: FailoverStorage,
    ledger: Ledger,
    copy_of: Callable[[int, str], bytes | None],
    names: Sequence[str],
    clock: Clock,
) -> WriteCheck:
    passes, owed = converge(store, clock)
    lost = missing = read_back = 0
    examples: list[str] = []
    for key, acceptable in sorted(ledger.expected.items()):
        present = [copy_of(i, key) in acceptable for i in range(len(names))]
        if not any(present) and None not in acceptable:
            lost += 1
            examples.append(f"{key}: on no target")
        for name, ok in zip(names, present, strict=True):
            if not ok:
                missing += 1
                if len(examples) < 5:
                    examples.append(f"{key}: missing or stale on {name}")
        read_back += _reads_back(store, key, acceptable)
    return WriteCheck(
        acknowledged=ledger.acknowledged,
        keys=len(ledger.expected),
        targets=len(names),
        copies_checked=len(ledger.expected) * len(names),
        lost=lost,
        missing_copies=missing,
        read_back=read_back,
        repair_passes=passes,
        still_owed=owed,
        examples=tuple(examples[:5]),
    )


def _reads_back(store: FailoverStorage, key: str, acceptable: Acceptable) -> int:
    try:
        data: bytes | None = store.get(key)
    except FileNotFoundError:
        data = None
    except FailoverError:
        return 0
    return int(data in acceptable)


__all__ = ["Acceptable", "Ledger", "WriteCheck", "converge", "final_check"]
