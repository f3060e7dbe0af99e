"""The error tables (providers/_errors.py and each cloud's providers/<cloud>/_client.py), and
the answers on which the clouds' boundaries once disagreed.

The table tests read the tables against meanings written out here, not against the tables
themselves; the agreement tests go through each cloud's public ``map_errors`` or through an
adapter, so they say what a caller sees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any

import botocore.exceptions as bce
import google.api_core.exceptions as gexc
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from google.cloud.storage.exceptions import InvalidResponse

from failover import InstanceSpec
from failover.errors import (
    AlreadyExists,
    ConfigError,
    FailoverError,
    IntegrityError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from failover.providers import _errors
from failover.providers.aws import _client as aws
from failover.providers.aws import map_errors as aws_errors
from failover.providers.azure import _client as azure
from failover.providers.azure import map_errors as azure_errors
from failover.providers.gcp import _client as gcp
from failover.providers.gcp import map_errors as gcp_errors
from failover.providers.gcp.compute import GceCompute
from tests.fakes import azure_compute, gce

Boundary = Callable[[str, str], AbstractContextManager[None]]

# ---------------------------------------------------------------- the shared table

# What each status the table names means, as docs/providers.md ("Errors") documents it.
DOCUMENTED: dict[int, tuple[type[FailoverError], str, str]] = {
    400: (InvalidRequest, "invalid_request", "permanent"),
    401: (PermissionDenied, "permission_denied", "temporary"),
    403: (PermissionDenied, "permission_denied", "temporary"),
    404: (NotFound, "not_found", "permanent"),
    408: (Timeout, "timeout", "temporary"),
    409: (PreconditionFailed, "precondition_failed", "permanent"),
    412: (PreconditionFailed, "precondition_failed", "permanent"),
    416: (InvalidRequest, "invalid_request", "permanent"),
    429: (Throttled, "throttled", "temporary"),
    503: (Throttled, "throttled", "temporary"),
}


def test_the_table_names_the_documented_statuses() -> None:
    assert set(_errors.STATUS) == set(DOCUMENTED)


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
def test_every_status_the_table_names_maps_to_its_documented_error(status: int) -> None:
    error_type, kind, how = DOCUMENTED[status]
    assert _errors.status_error(status) is error_type
    error = _errors.build(_errors.status_error(status), "m", "get")
    assert (type(error), error.kind, error.status) == (error_type, kind, how)
    assert error.fails_over is (how == "temporary")


@pytest.mark.parametrize("status", [0, 500, 501, 502, 504, 507, 599])
def test_a_5xx_or_no_answer_the_table_does_not_name_is_the_targets_failure(status: int) -> None:
    error = _errors.build(_errors.status_error(status), "m", "get")
    assert type(error) is Unavailable
    assert error.status == "temporary"


@pytest.mark.parametrize("status", [304, 402, 405, 410, 411, 413, 418, 422])
def test_another_status_the_table_does_not_name_is_the_requests_fault(status: int) -> None:
    error = _errors.build(_errors.status_error(status), "m", "get")
    assert type(error) is InvalidRequest
    assert error.status == "permanent"


def test_a_create_reads_404_and_409_differently() -> None:
    assert dict(_errors.ON_CREATE) == {404: InvalidRequest, 409: AlreadyExists}
    assert [op for op in ("create", "create_instance", "created", "put", "upsert_record") if _errors.is_create(op)] == [
        "create",
        "create_instance",
    ]


def test_the_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        _errors.STATUS[400] = NotFound  # type: ignore[index]
    with pytest.raises(TypeError):
        aws.TABLE.codes["NoSuchKey"] = Timeout  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gcp.TABLE.codes = {}  # type: ignore[misc]


def test_a_code_listed_under_two_meanings_is_refused() -> None:
    with pytest.raises(ValueError, match="'SlowDown' is listed as Throttled and Timeout"):
        _errors.by_code({Throttled: ("SlowDown",), Timeout: ("SlowDown",)})


# ---------------------------------------------------------------- the clouds' codes

CODES: list[tuple[_errors.ErrorTable, str, int, type[FailoverError], str]] = [
    # (table, code, status it comes with, error, kind's status)
    (aws.TABLE, "NoSuchKey", 404, NotFound, "permanent"),
    (aws.TABLE, "BucketAlreadyOwnedByYou", 409, AlreadyExists, "permanent"),
    (aws.TABLE, "OperationAborted", 409, PreconditionFailed, "permanent"),
    (aws.TABLE, "RequestTimeout", 400, Timeout, "temporary"),
    (aws.TABLE, "Throttling", 400, Throttled, "temporary"),
    (aws.TABLE, "PriorRequestNotComplete", 400, Throttled, "temporary"),
    (aws.TABLE, "ExpiredToken", 400, PermissionDenied, "temporary"),
    (aws.TABLE, "IncorrectInstanceState", 400, PreconditionFailed, "permanent"),
    (aws.TABLE, "InsufficientInstanceCapacity", 500, Unavailable, "temporary"),
    (aws.TABLE, "NoSuchHostedZone", 404, ConfigError, "permanent"),
    (azure.TABLE, "ContainerAlreadyExists", 409, AlreadyExists, "permanent"),
    (azure.TABLE, "BlobAlreadyExists", 409, PreconditionFailed, "permanent"),
    (azure.TABLE, "LeaseIdMissing", 412, PreconditionFailed, "permanent"),
    (azure.TABLE, "OperationTimedOut", 500, Timeout, "temporary"),
    (gcp.TABLE, "alreadyExists", 409, AlreadyExists, "permanent"),
    (gcp.TABLE, "rateLimitExceeded", 403, Throttled, "temporary"),
]


@pytest.mark.parametrize(("table", "code", "status", "expected", "how"), CODES, ids=[c[1] for c in CODES])
def test_a_code_the_cloud_names_beats_its_status(
    table: _errors.ErrorTable, code: str, status: int, expected: type[FailoverError], how: str
) -> None:
    error = table.from_answer(_errors.Answer(status, code), "get", "b/k")
    assert type(error) is expected
    assert error.status == how
    assert f"get b/k: {code} (HTTP {status})" in str(error)


@pytest.mark.parametrize("table", [aws.TABLE, azure.TABLE, gcp.TABLE], ids=lambda t: t.cloud)
def test_every_code_maps_to_a_provider_error_or_a_configuration_error(table: _errors.ErrorTable) -> None:
    assert table.codes
    for code, error_type in table.codes.items():
        assert issubclass(error_type, (ProviderError, ConfigError)), code


def test_a_conditional_write_reads_s3s_no_such_key_as_a_failed_condition() -> None:
    answer = _errors.Answer(404, "NoSuchKey")
    assert type(aws.TABLE.from_answer(answer, "put", "b/k", conditional=True)) is PreconditionFailed
    assert type(aws.TABLE.from_answer(answer, "put", "b/k")) is NotFound


def test_a_throttled_answer_keeps_its_retry_after_and_a_hint_is_appended() -> None:
    throttled = azure.TABLE.from_answer(_errors.Answer(503, "ServerBusy", retry_after=7.0), "get", "c/k")
    assert isinstance(throttled, Throttled) and throttled.retry_after == 7.0
    refused = aws.TABLE.from_answer(_errors.Answer(400, "InvalidBucketName"), "create", "s3://ab")
    assert isinstance(refused, InvalidRequest) and "3-63 characters" in str(refused)


def test_an_error_that_is_no_answer_is_named_by_its_class() -> None:
    assert type(aws.TABLE.from_exception(bce.ConnectTimeoutError(endpoint_url="x"), "get", "k")) is Timeout
    assert type(aws.TABLE.from_exception(bce.EndpointConnectionError(endpoint_url="x"), "get", "k")) is Unavailable
    assert aws.TABLE.from_exception(KeyError("k"), "get", "k") is None  # a bug, not the cloud's answer


# ---------------------------------------------------------------- where the clouds disagreed

def _s3_error(code: str, status: int) -> bce.ClientError:
    answer = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return bce.ClientError(answer, "Op")


def _azure_error(status: int, code: str, cls: type[HttpResponseError] = HttpResponseError) -> HttpResponseError:
    exc = cls(f"{code} says the service")
    exc.status_code, exc.reason = status, "Conflict"
    exc.error_code = code  # type: ignore[attr-defined]  # set by azure-storage-blob as here
    return exc


def _raised(boundary: Boundary, operation: str, exc: BaseException) -> FailoverError:
    with pytest.raises(FailoverError) as caught, boundary(operation, "the resource"):
        raise exc
    return caught.value


CREATE_CONFLICTS: dict[str, Callable[[], FailoverError]] = {
    "s3-bucket": lambda: _raised(aws_errors, "create", _s3_error("BucketAlreadyOwnedByYou", 409)),
    "azure-container": lambda: _raised(
        azure_errors, "create", _azure_error(409, "ContainerAlreadyExists", ResourceExistsError)
    ),
    # GCS's "conflict" reason answers a bucket insert whose name is taken.
    "gcs-bucket": lambda: _raised(
        gcp_errors, "create", gexc.Conflict("You already own this bucket.", errors=[{"reason": "conflict"}])
    ),
    "azure-vm": lambda: _create_twice_on_azure(),
    "gce-instance": lambda: _create_twice_on_gce(),
}


def _create_twice_on_azure() -> FailoverError:
    fake = azure_compute.FakeAzureCompute()
    fake.faults.add(409)  # ARM refuses the PUT of a VM whose name is taken by one it cannot change
    with pytest.raises(FailoverError) as caught:
        fake.adapter().create_instance(InstanceSpec("web-1", fake.vm_size, fake.image))
    return caught.value


def _create_twice_on_gce() -> FailoverError:
    fake = gce.FakeGce()
    compute = fake.adapter()
    compute.create_instance(InstanceSpec("web-1", fake.machine_type, fake.image))
    with pytest.raises(FailoverError) as caught:
        compute.create_instance(InstanceSpec("web-1", fake.machine_type, fake.image))
    return caught.value


@pytest.mark.parametrize("where", sorted(CREATE_CONFLICTS))
def test_a_conflict_on_create_is_already_exists_on_every_cloud(where: str) -> None:
    error = CREATE_CONFLICTS[where]()
    assert type(error) is AlreadyExists, repr(error)
    assert error.status == "permanent"


class _ConflictingGce:
    """An InstancesClient whose stop meets a concurrent change (409 "conflict")."""

    def stop_unary(self, **request: Any) -> Any:
        raise gexc.Conflict("The resource is being modified by another operation.", errors=[{"reason": "conflict"}])


CHANGE_CONFLICTS: dict[str, Callable[[], FailoverError]] = {
    "s3-put": lambda: _raised(aws_errors, "put", _s3_error("OperationAborted", 409)),
    "azure-put": lambda: _raised(azure_errors, "put", _azure_error(409, "LeaseIdMissing", ResourceExistsError)),
    "gcs-put": lambda: _raised(
        gcp_errors, "put", gexc.Conflict("Edited concurrently.", errors=[{"reason": "conflict"}])
    ),
    "gce-stop": lambda: _stop_on_gce(),
}


def _stop_on_gce() -> FailoverError:
    compute = GceCompute("europe-west1-b", project="p", client=_ConflictingGce())  # type: ignore[arg-type]
    with pytest.raises(FailoverError) as caught:
        compute.stop_instance("web-1")
    return caught.value


@pytest.mark.parametrize("where", sorted(CHANGE_CONFLICTS))
def test_a_conflict_on_a_change_is_precondition_failed_on_every_cloud(where: str) -> None:
    error = CHANGE_CONFLICTS[where]()
    assert type(error) is PreconditionFailed, repr(error)
    assert error.status == "permanent"


RATE_LIMITS: dict[str, Callable[[], FailoverError]] = {
    "aws-400-throttling": lambda: _raised(aws_errors, "describe_instance", _s3_error("Throttling", 400)),
    "azure-503-server-busy": lambda: _raised(azure_errors, "get", _azure_error(503, "ServerBusy")),
    # GCE answers its API rate limits with a 403 whose reason says so.
    "google-403-rate-limit": lambda: _raised(
        gcp_errors, "describe_instance", gexc.Forbidden("Rate Limit Exceeded", errors=[{"reason": "rateLimitExceeded"}])
    ),
}


@pytest.mark.parametrize("where", sorted(RATE_LIMITS))
def test_a_rate_limit_answer_is_throttled_on_every_cloud(where: str) -> None:
    error = RATE_LIMITS[where]()
    assert type(error) is Throttled, repr(error)
    assert error.fails_over


@pytest.mark.parametrize(
    ("status", "expected"), [(403, PermissionDenied), (404, NotFound), (412, PreconditionFailed), (429, Throttled)]
)
def test_a_status_means_the_same_whichever_google_exception_carries_it(
    status: int, expected: type[FailoverError]
) -> None:
    # A media download's raw InvalidResponse, and the api-core error the SDK usually makes of it.
    response = SimpleNamespace(status_code=status, headers={})
    raw = _raised(gcp_errors, "get_stream", InvalidResponse(response, "unexpected status"))
    wrapped = _raised(gcp_errors, "get_stream", gexc.from_http_status(status, "unexpected status"))
    assert (type(raw), type(wrapped)) == (expected, expected)


def test_the_storage_sdks_own_checksum_failure_is_an_integrity_error() -> None:
    from google.cloud.storage.exceptions import DataCorruption

    mapped = _raised(gcp_errors, "get", DataCorruption(SimpleNamespace(status_code=200, headers={}), "crc32c mismatch"))
    assert isinstance(mapped, IntegrityError) and mapped.fails_over


def test_the_same_google_reason_means_the_same_on_every_google_service() -> None:
    # Cloud DNS says alreadyExists to a change adding a set that exists, as GCE does to an
    # insert of a taken name.
    exists = gexc.Conflict("The resource already exists", errors=[{"reason": "alreadyExists"}])
    on_dns = _raised(gcp_errors, "upsert_record", exists)
    assert (type(on_dns), type(_create_twice_on_gce())) == (AlreadyExists, AlreadyExists)
