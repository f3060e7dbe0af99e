"""Failure streaks a fleet counts together in Redis, so that the processes open a breaker
as one once their failures in a row add up to the threshold.

Without this, each process must see ``threshold`` failures on its own before it avoids a
dead target, and a fleet of N sends about N x threshold calls to it.  Each breaker of a
`RedisBreakerStore` reports a failure that did not open it locally (and the success that
ends a streak); the reports are queued on the caller's thread, summed per breaker, and
sent by a writer thread, so Redis is never waited for.  One script adds them to a counter
that expires after ``window`` seconds, and at the threshold saves the breaker open (the
same hash a transition writes) and announces it on the change channel: every subscribed
process adopts the opening within milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from failover.fleet.background import LatestWriter

if TYPE_CHECKING:
    from collections.abc import Callable

# KEYS[1] = the streak counter, KEYS[2] = the breaker's hash, KEYS[3] = the change channel.
# ARGV = reset first (0/1), failures, threshold, opens, open time in ms, reason, name,
# window in ms.  Forced states and an opening still running are left alone.
_COUNT = """
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
local failures = tonumber(ARGV[2])
if failures == 0 then return 0 end
local streak = redis.call('INCRBY', KEYS[1], failures)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if streak < tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'forced_open' or state == 'forced_closed' then return 0 end
if state == 'open' and tonumber(redis.call('HGET', KEYS[2], 'open_until_ms') or '0') > now then return 0 end
redis.call('HSET', KEYS[2], 'state', 'open', 'opens', ARGV[4],
           'reason', streak .. ' consecutive failures across the fleet: ' .. ARGV[6],
           'open_until_ms', now + tonumber(ARGV[5]))
redis.call('PUBLISH', KEYS[3], ARGV[7])
return 1
"""


def streak_key(prefix: str, name: str) -> str:
    """The counter of breaker ``name``'s fleet streak, beside its hash ``prefix + name``."""
    return f"{prefix}{name}#streak"


@dataclass(frozen=True, slots=True)
class StreakReport:
    """What one breaker's process has to tell the fleet since its last report."""

    reset: bool  # a success ended the streak before ``failures`` (if any) were counted
    failures: int
    threshold: int = 0
    opens: int = 0
    open_for: float = 0.0
    reason: str = ""


def merge(queued: StreakReport, new: StreakReport) -> StreakReport:
    """Two reports not yet sent, as one: a reset drops the failures queued before it."""
    if new.reset:
        return new
    return StreakReport(
        queued.reset, queued.failures + new.failures, new.threshold, new.opens, new.open_for, new.reason
    )


class FleetStreaks:
    """The failure counting half of `RedisBreakerStore`: queued reports, one writer thread."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        channel: str,
        window: float,
        paused: Callable[[], bool],
        failed: Callable[[str, BaseException], None],
        succeeded: Callable[[], None],
        max_reason: int,
    ) -> None:
        self._prefix = prefix
        self._channel = channel
        self._window_ms = max(1, round(window * 1000))
        self._paused, self._failed, self._succeeded = paused, failed, succeeded
        self._max_reason = max_reason
        self._script = client.register_script(_COUNT)
        self._writer: LatestWriter[StreakReport] = LatestWriter(
            self._send, thread_name="failover-redis-streaks", merge=merge, prepare=self._load_script
        )

    def start(self) -> None:
        """Start the writer thread, which loads the counting script into Redis first."""
        self._writer.start()

    def _load_script(self) -> None:
        if not self._paused():
            self._script.registered_client.script_load(self._script.script)

    def failed(self, name: str, threshold: int, opens: int, open_for: float, reason: str) -> None:
        self._writer.put(name, StreakReport(False, 1, threshold, opens, open_for, reason[: self._max_reason]))

    def recovered(self, name: str) -> None:
        self._writer.put(name, StreakReport(True, 0))

    def flush(self, timeout: float) -> bool:
        return self._writer.flush(timeout)

    def close(self) -> None:
        self._writer.close()

    def _send(self, name: str, report: StreakReport) -> None:
        from redis.exceptions import RedisError

        if self._paused():
            return  # Redis is out: each process counts alone meanwhile
        try:
            self._script(
                keys=[streak_key(self._prefix, name), self._prefix + name, self._channel],
                args=[
                    int(report.reset),
                    report.failures,
                    report.threshold,
                    report.opens,
                    max(0, round(report.open_for * 1000)),
                    report.reason,
                    name,
                    self._window_ms,
                ],
            )
        except RedisError as exc:
            self._failed(f"failure count of breaker {name!r}", exc)
            return
        self._succeeded()


__all__ = ["FleetStreaks", "StreakReport", "merge", "streak_key"]
