"""How a facade's calls are timed, retried and hedged, and what wraps each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from failover.classification import Classifier
from failover.errors import ConfigError
from failover.layers.base import Layer, check_layers
from failover.layers.builtin import AttemptTimeout

# What every target's stack holds unless ExecutionConfig(layers=...) says otherwise.
DEFAULT_LAYERS: tuple[Layer, ...] = (AttemptTimeout(),)


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Timeouts, retries and hedging for every call of a facade.

    ``attempt_timeout`` bounds one try on one target.  It is a hard limit for hedged
    reads and with ``enforce_timeouts=True`` (the attempt runs on a worker thread and is
    abandoned when it runs out).  Otherwise the attempt runs on the caller's thread and
    is bounded by the provider: by its SDK's connect/read timeouts (the cloud adapters
    set short ones), and, for providers that read `failover.deadline`
    (``reads_deadline = True``), by the deadline itself.  ``deadline`` bounds the whole
    call across targets.  ``None`` switches either off.  ``layers``: each target's stack
    below the guard, outermost first (`failover.layers`; default `DEFAULT_LAYERS`).
    """

    attempt_timeout: float | None = 5.0
    deadline: float | None = 30.0
    max_attempts: int | None = None
    retry_ratio: float = 0.2
    retry_floor_per_second: float = 10.0
    retry_burst: float = 20.0
    hedge_after: float | None = None
    enforce_timeouts: bool = False
    classifier: Classifier | None = None
    layers: Sequence[Layer] = DEFAULT_LAYERS

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", check_layers(self.layers))  # frozen: normalised once
        for name in ("attempt_timeout", "deadline", "hedge_after"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"ExecutionConfig: {name} must be > 0 seconds or None, got {value!r}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError(f"ExecutionConfig: max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.retry_ratio <= 1:
            raise ConfigError(f"ExecutionConfig: retry_ratio must be in [0, 1], got {self.retry_ratio}")
        if self.retry_floor_per_second < 0 or self.retry_burst < 1:
            raise ConfigError("ExecutionConfig: need retry_floor_per_second >= 0 and retry_burst >= 1")
        if self.classifier is not None and not isinstance(self.classifier, Classifier):
            raise ConfigError(f"ExecutionConfig: classifier must be a Classifier, got {self.classifier!r}")


__all__ = ["DEFAULT_LAYERS", "ExecutionConfig"]
