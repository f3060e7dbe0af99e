"""Fake HTTP back ends for cloud services that have no local server (Azure DNS, Cloud DNS).

Each fake holds its state in memory, answers the service's documented REST JSON, and is
plugged in at the SDK's own transport seam, so the real SDK builds every request and parses
every response.  Faults are queued with `Faults.add` and consumed one per request.

The SDK-specific modules (`tests.fakes.azure_dns`, `tests.fakes.cloud_dns`) are not imported
here: each needs its own optional SDK.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """What the next request gets instead of an answer: an HTTP status (with headers and a
    body), or an exception raised by the transport (a refused connection, a timeout)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    message: str = "injected fault"


@dataclass(frozen=True)
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: object
    headers: dict[str, str]
    timeout: object = None


class Faults:
    """A thread-safe queue of faults; `take` pops the next one, if any."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(
        self,
        status: int = 0,
        *,
        headers: dict[str, str] | None = None,
        error: BaseException | None = None,
        times: int = 1,
    ) -> None:
        fault = Fault(status=status, headers=dict(headers or {}), error=error)
        with self._lock:
            self._queue.extend([fault] * times)

    def take(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


__all__ = ["Fault", "Faults", "Seen"]
