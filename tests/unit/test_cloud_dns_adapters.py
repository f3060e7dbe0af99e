"""AzureDnsZone and CloudDnsZone against fake HTTP back ends plugged in at each SDK's transport seam.

What the contract suite does not cover: error mapping, paging, name translation at the
boundary, secrets kept out of reprs and errors, and bad input refused before any request.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.core.exceptions import ServiceRequestError, ServiceResponseTimeoutError
from google.oauth2.credentials import Credentials

from failover.capabilities import Record
from failover.errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Throttled,
    Timeout,
    Unavailable,
)
from failover.providers.azure.dns import AzureDnsZone
from failover.providers.gcp.dns import CloudDnsZone
from tests.fakes.azure_dns import FakeAzureDns, StaticToken
from tests.fakes.cloud_dns import FakeCloudDns

AZURE_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.super-secret-azure-token"
GOOGLE_TOKEN = "ya29.super-secret-google-token"


@dataclass
class Case:
    """One adapter on its fake, with the transport-level errors its SDK's transport raises."""

    fake: Any
    zone: Any
    connection_error: Callable[[], BaseException]
    timeout_error: Callable[[], BaseException]

    @property
    def requests(self) -> list[Any]:
        return list(self.fake.requests)


def _azure(page_size: int = 100) -> Case:
    fake = FakeAzureDns(page_size=page_size)
    return Case(
        fake,
        fake.adapter(credential=StaticToken(AZURE_TOKEN)),
        lambda: ServiceRequestError("connection refused"),
        lambda: ServiceResponseTimeoutError("read timed out"),
    )


def _gcp(page_size: int = 100) -> Case:
    fake = FakeCloudDns(page_size=page_size)
    zone = CloudDnsZone(
        "example.com.", managed_zone="example-com", project=fake.project,
        credentials=Credentials(GOOGLE_TOKEN), http=fake.session(),  # type: ignore[no-untyped-call]
    )
    return Case(
        fake,
        zone,
        lambda: requests.ConnectionError("connection refused"),
        lambda: requests.ReadTimeout("read timed out"),
    )


@pytest.fixture(params=[_azure, _gcp], ids=["azure", "gcp"])
def case(request: pytest.FixtureRequest) -> Case:
    made: Case = request.param()
    return made


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "expected", "temporary"),
    [(404, NotFound, False), (403, PermissionDenied, True), (500, Unavailable, True), (503, Unavailable, True)],
)
def test_http_errors_are_mapped(case: Case, status: int, expected: type[Exception], temporary: bool) -> None:
    case.fake.faults.add(status)
    with pytest.raises(expected) as caught:
        case.zone.get_record("www", "A")
    assert caught.value.temporary is temporary  # type: ignore[attr-defined]
    assert caught.value.operation == "get_record"  # type: ignore[attr-defined]
    assert caught.value.__cause__ is not None  # raise ... from the SDK's exception
    assert len(case.requests) == 1  # the SDK did not retry: the failover layer decides


def test_throttling_carries_retry_after(case: Case) -> None:
    case.fake.faults.add(429, headers={"Retry-After": "7"})
    with pytest.raises(Throttled) as caught:
        case.zone.upsert_record(Record("www", "A", 60, ("192.0.2.1",)))
    assert caught.value.retry_after == 7.0
    assert caught.value.temporary


def test_connection_error_is_unavailable(case: Case) -> None:
    case.fake.faults.add(error=case.connection_error())
    with pytest.raises(Unavailable) as caught:
        case.zone.get_record("www", "A")
    assert caught.value.temporary and not isinstance(caught.value, Timeout)


def test_timeout_is_timeout(case: Case) -> None:
    case.fake.faults.add(error=case.timeout_error())
    with pytest.raises(Timeout) as caught:
        list(case.zone.list_records())
    assert caught.value.temporary


def test_probe_reports_a_missing_zone(case: Case) -> None:
    case.zone.probe()
    case.fake.faults.add(404)
    with pytest.raises(NotFound):
        case.zone.probe()


# ---------------------------------------------------------------- paging


def test_list_follows_every_page_lazily() -> None:
    for make in (_azure, _gcp):
        case = make(page_size=2)
        for i in range(5):
            case.zone.upsert_record(Record(f"host{i}", "A", 60, (f"192.0.2.{i}",)))
        before = len(case.requests)
        listing = case.zone.list_records()
        assert len(case.requests) == before  # nothing fetched until iteration starts
        names = [r.name for r in listing if r.type == "A"]
        assert names == [f"host{i}.example.com." for i in range(5)]
        pages = len(case.requests) - before
        assert pages == 4  # 7 record sets (5 + SOA + NS), two per page


# ---------------------------------------------------------------- names


def test_azure_uses_relative_names_on_the_wire() -> None:
    case = _azure()
    for name in ("www", "WWW.example.com.", "a.b", "@", "*.wild"):
        case.zone.upsert_record(Record(name, "TXT", 60, ("x",)))
    paths = [r.path.rsplit("/", 2)[-2:] for r in case.requests]
    assert paths == [["TXT", "www"], ["TXT", "www"], ["TXT", "a.b"], ["TXT", "@"], ["TXT", "*.wild"]]
    assert all("/dnsZones/example.com/" in r.path for r in case.requests)  # zone without its final dot
    names = {r.name for r in case.zone.list_records() if r.type == "TXT"}
    assert names == {"www.example.com.", "a.b.example.com.", "example.com.", "*.wild.example.com."}
    assert case.zone.get_record("example.com.", "TXT").name == "example.com."


def test_cloud_dns_uses_absolute_names_on_the_wire() -> None:
    case = _gcp()
    case.zone.upsert_record(Record("WWW", "A", 60, ("192.0.2.1",)))
    case.zone.upsert_record(Record("@", "MX", 60, ("10 mx.example.net.",)))
    change = [r for r in case.requests if r.method == "POST"][-1]
    assert change.body["additions"][0]["name"] == "example.com."
    lookups = [r.query for r in case.requests if r.method == "GET"]
    assert lookups[0] == {"name": "www.example.com.", "type": "A", "prettyPrint": "false"}
    assert case.zone.get_record("example.com.", "MX").values == ("10 mx.example.net.",)


def test_cloud_dns_upsert_replaces_atomically_and_sends_the_timeout() -> None:
    case = _gcp()
    case.zone.upsert_record(Record("svc", "A", 60, ("192.0.2.1", "192.0.2.2")))
    case.zone.upsert_record(Record("svc", "A", 30, ("192.0.2.3",)))
    change = [r for r in case.requests if r.method == "POST"][-1]
    assert [d["rrdatas"] for d in change.body["deletions"]] == [["192.0.2.1", "192.0.2.2"]]
    assert [a["rrdatas"] for a in change.body["additions"]] == [["192.0.2.3"]]
    assert {r.timeout for r in case.requests} == {(2.0, 5.0)}  # not google-cloud-core's 60 s


def test_cloud_dns_write_retries_after_a_concurrent_change() -> None:
    case = _gcp()
    case.zone.upsert_record(Record("svc", "A", 60, ("192.0.2.1",)))
    key = ("svc.example.com.", "A")
    original = case.fake.handle
    races = [1]

    def racing(method: str, url: str, headers: dict[str, str], body: Any, timeout: Any = None) -> Any:
        # Another writer changes the set between our read and our change: the deletion no
        # longer matches (412), so the adapter must read again.
        if method == "POST" and races[0] > 0:
            races[0] -= 1
            case.fake.rrsets["example-com"][key] = {"ttl": 99, "rrdatas": [f"192.0.2.{90 + races[0]}"]}
        return original(method, url, headers, body, timeout)

    case.fake.handle = racing
    assert case.zone.upsert_record(Record("svc", "A", 60, ("192.0.2.2",))).values == ("192.0.2.2",)
    assert case.fake.rrsets["example-com"][key] == {"ttl": 60, "rrdatas": ["192.0.2.2"]}
    races[0] = 10  # a writer that always wins: give up after a few rounds
    with pytest.raises(PreconditionFailed):
        case.zone.upsert_record(Record("svc", "A", 60, ("192.0.2.3",)))
    assert races[0] == 10 - 3


def test_delete_of_a_record_in_a_missing_azure_zone_is_not_found() -> None:
    case = _azure()
    case.zone.delete_record("never", "A")  # 204 from Azure: already gone, fine
    gone = case.fake.adapter(zone="missing.example.")
    with pytest.raises(NotFound):
        gone.delete_record("www", "A")


# ---------------------------------------------------------------- secrets and configuration


def test_credentials_never_in_repr_or_errors(case: Case) -> None:
    secrets = (AZURE_TOKEN, GOOGLE_TOKEN, "sub-0001")
    for status in (401, 403, 404, 429, 500):
        case.fake.faults.add(status)
        with pytest.raises(Exception) as caught:
            case.zone.get_record("www", "A")
        shown = f"{caught.value} {caught.value!r} {caught.value.__dict__}"
        assert not any(secret in shown for secret in secrets)
    assert not any(secret in repr(case.zone) for secret in secrets)
    if isinstance(case.zone, AzureDnsZone):  # the token was really sent, so it was there to leak
        assert case.requests[0].headers["authorization"] == f"Bearer {AZURE_TOKEN}"


@pytest.mark.parametrize(
    "call",
    [
        lambda z: z.upsert_record(Record("www", "XYZ", 60, ("x",))),
        lambda z: z.upsert_record(Record("www", "A", -1, ("192.0.2.1",))),
        lambda z: z.upsert_record(Record("www.elsewhere.org.", "A", 60, ("192.0.2.1",))),
        lambda z: z.upsert_record(Record("ip", "AAAA", 60, ("192.0.2.1",))),
        lambda z: z.upsert_record(Record("t", "TXT", 60, ('"unterminated',))),
        lambda z: z.upsert_record(Record("t", "TXT", 60, ('"' + "x" * 256 + '"',))),
        lambda z: z.get_record("bad..name", "A"),
        lambda z: z.get_record("www", "SOA"),
        lambda z: z.delete_record("", "A"),
    ],
    ids=["type", "ttl", "outside-zone", "ipv4-in-AAAA", "txt-quote", "txt-long", "name", "lookup-type", "empty"],
)
def test_bad_input_fails_before_any_request(case: Case, call: Callable[[Any], object]) -> None:
    with pytest.raises(InvalidInput):
        call(case.zone)
    assert case.requests == []


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError):
        AzureDnsZone("example.com.", subscription_id="s", resource_group="", credential=StaticToken())
    with pytest.raises(ConfigError):
        AzureDnsZone("example.com.", subscription_id="s", resource_group="rg", credential=StaticToken(), read_timeout=0)
    with pytest.raises(ConfigError):
        CloudDnsZone("example.com.", managed_zone="Bad_Name", project="p", http=FakeCloudDns().session())
    with pytest.raises(ConfigError):
        CloudDnsZone("example.com.", managed_zone="z", project="p", http=FakeCloudDns().session(),
                     timeout=(1, 2, 3))  # type: ignore[arg-type]


def test_cloud_dns_probe_checks_the_zone_served() -> None:
    fake = FakeCloudDns(zones={"example-com": "example.org."})
    with pytest.raises(ConfigError, match=r"serves 'example\.org\.'"):
        fake.adapter(zone="example.com.").probe()


@pytest.mark.parametrize(
    ("module", "missing", "extra"),
    [
        ("failover.providers.azure.dns", "azure.mgmt.dns", "[azure-dns]"),
        ("failover.providers.gcp.dns", "google.cloud.dns", "[cloud-dns]"),
    ],
)
def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch, module: str, missing: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # None makes `import` raise ImportError
    parent, _, child = missing.rpartition(".")
    monkeypatch.delattr(sys.modules[parent], child, raising=False)  # `from parent import child` looks here first
    monkeypatch.delitem(sys.modules, module)
    with pytest.raises(ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        importlib.import_module(module)
