"""The error tree: classes, fields, mapping of builtin and foreign errors, pickling."""

from __future__ import annotations

import pickle

import pytest

from failover import errors
from failover.errors import (
    AllTargetsFailed,
    CircuitOpen,
    ConfigError,
    FailoverError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Throttled,
    Timeout,
    Unavailable,
    classify,
)


def test_every_error_is_a_failover_error_with_kind_and_temporary() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, FailoverError)]
    assert len(classes) >= 15
    kinds = [c.kind for c in classes]
    assert len(set(kinds)) == len(kinds), "each class has its own kind"


@pytest.mark.parametrize(
    ("cls", "builtin", "temporary"),
    [
        (NotFound, FileNotFoundError, False),
        (PermissionDenied, PermissionError, True),
        (InvalidInput, ValueError, False),
        (ConfigError, ValueError, False),
        (Unavailable, ConnectionError, True),
        (Throttled, ConnectionError, True),
        (Timeout, TimeoutError, True),
    ],
)
def test_errors_are_catchable_as_builtins(cls: type[FailoverError], builtin: type[Exception], temporary: bool) -> None:
    error = cls("boom", target="aws:us-east-1", operation="get")
    assert isinstance(error, builtin)
    assert error.temporary is temporary
    assert str(error) == "boom (target=aws:us-east-1, operation=get)"


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ConnectionRefusedError("refused"), Unavailable),
        (ConnectionResetError("reset"), Unavailable),
        (TimeoutError("slow"), Timeout),
        (OSError("no route"), Unavailable),
        (FileNotFoundError("gone"), NotFound),
        (PermissionError("no"), PermissionDenied),
    ],
)
def test_classify_maps_builtin_errors(raised: Exception, expected: type[FailoverError]) -> None:
    mapped = classify(raised, target="t:1", operation="get")
    assert type(mapped) is expected
    assert mapped.target == "t:1" and mapped.operation == "get"


def test_classify_leaves_programming_errors_alone() -> None:
    assert classify(KeyError("x"), target="t:1", operation="get") is None
    assert classify(TypeError("x"), target="t:1", operation="get") is None


def test_classify_fills_in_target_of_an_adapter_error() -> None:
    error = NotFound("no such key")
    assert classify(error, target="gcp:eu", operation="head") is error
    assert error.target == "gcp:eu" and error.operation == "head"


def test_temporary_can_be_overridden_per_instance() -> None:
    assert not Unavailable("down for good", temporary=False).temporary


def test_errors_survive_pickling_with_their_fields() -> None:
    error = Throttled("slow down", target="aws:us-east-1", operation="put", retry_after=2.5)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is Throttled
    assert (copy.target, copy.operation, copy.temporary) == ("aws:us-east-1", "put", True)


def test_all_targets_failed_lists_each_cause() -> None:
    attempts = [Unavailable("x", target="a:1"), Timeout("y", target="b:1")]
    error = AllTargetsFailed("get: all failed", operation="get", attempts=attempts)
    assert "a:1: unavailable" in str(error) and "b:1: timeout" in str(error)
    assert error.attempts == tuple(attempts)


def test_circuit_open_carries_retry_time() -> None:
    error = CircuitOpen("open", target="a:1", retry_in=3.0)
    assert error.temporary and error.retry_in == 3.0
