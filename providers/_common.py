"""Checks and helpers every cloud adapter shares: timeouts, ranges, ids and tags, timestamps,
Retry-After, and redaction of what an adapter writes in its messages."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from failover.deadline import time_left
from failover.errors import ConfigError, InvalidInput, Timeout
from failover.redact import redact as redact_secrets

# Every adapter's SDK defaults: a 2 s connect allows one lost SYN (Linux resends after
# 1 s); a 5 s read is a judgement (docs/providers.md).  Cross-target retries are ours.
DEFAULT_CONNECT_TIMEOUT = 2.0


DEFAULT_READ_TIMEOUT = 5.0


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
    return prefix


def check_timeout(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")


def check_timeout_pair(
    timeout: float | tuple[float, float], check: Callable[[str, float], None] = check_timeout
) -> tuple[float, float]:
    """``(connect, read)`` seconds from seconds or a pair, each checked by ``check``."""
    if not isinstance(timeout, tuple):
        check("timeout", timeout)
        return (timeout, timeout)
    if len(timeout) != 2:
        raise ConfigError(f"timeout must be seconds or (connect, read), not {timeout!r}")
    check("connect timeout", timeout[0])
    check("read timeout", timeout[1])
    return timeout


def check_instance_id(instance_id: str) -> None:
    if not isinstance(instance_id, str) or not instance_id:
        raise InvalidInput(f"instance id must be a non-empty str, not {instance_id!r}")


def copy_tags(tags: Mapping[str, str] | None, what: str = "tags") -> dict[str, str]:
    """A private copy of ``tags`` (empty for None); `InvalidInput` unless it is a mapping.
    Each cloud then checks the names and values it accepts."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"{what} must be a mapping of str to str, not {type(tags).__name__}")
    return dict(tags)


def timestamp(value: object) -> float | None:
    """Seconds since the epoch from an SDK's datetime or ISO 8601 string (or seconds already);
    None if absent or unreadable."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


# The shortest socket timeout `remaining_timeout` hands to an SDK: below this a request
# could not even connect, and a zero or negative timeout means "no timeout" to some SDKs.
MIN_TIMEOUT = 0.05


def remaining_timeout(default: float, *, operation: str | None = None) -> float:
    """``default`` cut to the time left before the running attempt's deadline.

    The deadline is the one the executor publishes to providers with ``reads_deadline =
    True`` (`failover.deadline`); with none set, ``default`` is returned as it is.  It is
    an absolute time on the executor's clock.  The
    result is never below `MIN_TIMEOUT`.  If the deadline has already passed, `Timeout`
    is raised instead, so no request is sent.  The time left is measured on the clock the
    deadline was set on (`failover.deadline.time_left`), so an executor on a fake clock
    still gets real timeouts.

    It bounds one request's socket waits, not the request as a whole: connect and read
    are each cut to what is left, and a read timeout bounds each silence between bytes.
    """
    left = time_left()
    if left is None:
        return default
    if left <= 0:
        raise Timeout("attempt deadline passed before the request", operation=operation)
    return max(MIN_TIMEOUT, min(default, left))


def redact(text: str, limit: int = 400) -> str:
    """An SDK message made safe to repeat: secrets masked by `failover.redact.redact`
    (requests puts the full URL, SAS included, in its messages), whitespace collapsed to
    one line, at most ``limit`` chars."""
    one_line = " ".join(redact_secrets(str(text)).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def safe_url(url: str | None) -> str | None:
    """A URL safe to show: no query string (an Azure account URL may carry a SAS), no user:password."""
    if url is None:
        return None
    parts = urlsplit(url)
    if not parts.netloc and "@" in url:
        # No "//": urlsplit reads "user:pw@host" as scheme "user", path "pw@host".
        parts = urlsplit("//" + url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
