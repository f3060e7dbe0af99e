"""The `DnsZone` contract: record sets round-trip, names are normalised, bad input is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.capabilities import OPERATIONS, Capability, DnsZone, Record, supported_operations
from failover.errors import InvalidInput, NotFound


def fqdn(zone: DnsZone, relative: str) -> str:
    return f"{relative}.{zone.zone}"


def ours(zone: DnsZone, records: Iterator[Record]) -> dict[tuple[str, str], Record]:
    # Real zones also hold SOA and NS sets at the apex; the suite only looks at its own.
    return {(r.name, r.type): r for r in records if r.type not in {"SOA"} and r.name != zone.zone}


def test_declares_every_dns_operation(dns_zone: DnsZone) -> None:
    assert supported_operations(dns_zone) >= OPERATIONS[Capability.DNS_ZONE]
    probe = getattr(dns_zone, "probe", None)
    if probe is not None:
        assert probe() is None


def test_zone_is_absolute_lower_case(dns_zone: DnsZone) -> None:
    assert dns_zone.zone.endswith(".")
    assert dns_zone.zone == dns_zone.zone.lower()
    assert dns_zone.zone.count(".") >= 2


def test_upsert_get_round_trip(dns_zone: DnsZone) -> None:
    stored = dns_zone.upsert_record(Record("www", "A", 60, ("192.0.2.10", "192.0.2.11")))
    assert stored.name == fqdn(dns_zone, "www")
    assert stored.type == "A"
    assert stored.ttl == 60
    assert sorted(stored.values) == ["192.0.2.10", "192.0.2.11"]
    fetched = dns_zone.get_record("www", "A")
    assert (fetched.name, fetched.type, fetched.ttl) == (fqdn(dns_zone, "www"), "A", 60)
    assert sorted(fetched.values) == ["192.0.2.10", "192.0.2.11"]


def test_names_and_types_are_normalised(dns_zone: DnsZone) -> None:
    dns_zone.upsert_record(Record(f"API.{dns_zone.zone.upper()}", "a", 300, ("192.0.2.1",)))
    for name in ("api", "API", fqdn(dns_zone, "api"), fqdn(dns_zone, "Api").upper()):
        for rtype in ("A", "a"):
            record = dns_zone.get_record(name, rtype)
            assert (record.name, record.type) == (fqdn(dns_zone, "api"), "A")


def test_upsert_replaces_the_record_set(dns_zone: DnsZone) -> None:
    dns_zone.upsert_record(Record("svc", "A", 60, ("192.0.2.1", "192.0.2.2")))
    replaced = dns_zone.upsert_record(Record("svc", "A", 30, ("198.51.100.7",)))
    assert replaced.values == ("198.51.100.7",)
    record = dns_zone.get_record("svc", "A")
    assert (record.ttl, record.values) == (30, ("198.51.100.7",))
    matching = [r for r in dns_zone.list_records() if r.name == fqdn(dns_zone, "svc")]
    assert len(matching) == 1


def test_same_name_different_types_are_separate(dns_zone: DnsZone) -> None:
    dns_zone.upsert_record(Record("dual", "A", 60, ("192.0.2.5",)))
    dns_zone.upsert_record(Record("dual", "AAAA", 60, ("2001:db8::5",)))
    dns_zone.delete_record("dual", "A")
    assert dns_zone.get_record("dual", "AAAA").values == ("2001:db8::5",)
    with pytest.raises(NotFound):
        dns_zone.get_record("dual", "A")


@pytest.mark.parametrize(
    ("name", "rtype", "values"),
    [
        ("v6", "AAAA", ("2001:db8::1", "2001:db8::2")),
        ("alias", "CNAME", ("www.example.net.",)),
        ("txt", "TXT", ("v=spf1 -all", "hello world")),
        ("mail", "MX", ("10 mx1.example.net.", "20 mx2.example.net.")),
        ("sub", "NS", ("ns1.example.net.", "ns2.example.net.")),
        ("_sip._tcp", "SRV", ("10 5 5060 sip.example.net.",)),
        ("caa", "CAA", ('0 issue "letsencrypt.org"',)),
        ("*.wild", "A", ("192.0.2.99",)),
    ],
    ids=["AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "wildcard"],
)
def test_every_record_type_round_trips(
    dns_zone: DnsZone, name: str, rtype: str, values: tuple[str, ...]
) -> None:
    dns_zone.upsert_record(Record(name, rtype, 120, values))
    record = dns_zone.get_record(name, rtype)
    assert record.name == fqdn(dns_zone, name)
    assert sorted(record.values) == sorted(values)


def test_list_and_delete(dns_zone: DnsZone) -> None:
    created = {
        (fqdn(dns_zone, "a1"), "A"): dns_zone.upsert_record(Record("a1", "A", 60, ("192.0.2.1",))),
        (fqdn(dns_zone, "a2"), "A"): dns_zone.upsert_record(Record("a2", "A", 60, ("192.0.2.2",))),
        (fqdn(dns_zone, "t"), "TXT"): dns_zone.upsert_record(Record("t", "TXT", 60, ("x",))),
    }
    listing = dns_zone.list_records()
    assert isinstance(listing, Iterator)
    assert ours(dns_zone, listing) == created
    dns_zone.delete_record("a1", "A")
    del created[(fqdn(dns_zone, "a1"), "A")]
    assert ours(dns_zone, dns_zone.list_records()) == created
    with pytest.raises(NotFound):
        dns_zone.get_record("a1", "A")


def test_delete_is_idempotent(dns_zone: DnsZone) -> None:
    dns_zone.upsert_record(Record("once", "A", 60, ("192.0.2.1",)))
    dns_zone.delete_record("once", "A")
    dns_zone.delete_record("once", "A")
    dns_zone.delete_record("never", "TXT")


def test_missing_record_is_not_found(dns_zone: DnsZone) -> None:
    with pytest.raises(NotFound) as caught:
        dns_zone.get_record("missing", "A")
    assert not caught.value.temporary
    with pytest.raises(FileNotFoundError):
        dns_zone.get_record(fqdn(dns_zone, "missing"), "CNAME")


@pytest.mark.parametrize(
    "record",
    [
        Record("bad-type", "XYZ", 60, ("x",)),
        Record("bad-type", "SOA", 60, ("x",)),
        Record("ttl", "A", -1, ("192.0.2.1",)),
        Record("ttl", "A", 2**31, ("192.0.2.1",)),
        Record("ttl", "A", "60", ("192.0.2.1",)),  # type: ignore[arg-type]
        Record("ttl", "A", True, ("192.0.2.1",)),
        Record("ttl", "A", 60.5, ("192.0.2.1",)),  # type: ignore[arg-type]
        Record("www.elsewhere.org.", "A", 60, ("192.0.2.1",)),
        Record("example.com.evil.", "A", 60, ("192.0.2.1",)),
        Record("", "A", 60, ("192.0.2.1",)),
        Record("double..dot", "A", 60, ("192.0.2.1",)),
        Record("sp ace", "A", 60, ("192.0.2.1",)),
        Record("x" * 64, "A", 60, ("192.0.2.1",)),
        Record(".".join(["abcdefghi"] * 26), "A", 60, ("192.0.2.1",)),
        Record("ip", "A", 60, ("999.0.2.1",)),
        Record("ip", "A", 60, ("2001:db8::1",)),
        Record("ip", "AAAA", 60, ("192.0.2.1",)),
        Record("ip", "A", 60, "192.0.2.1"),  # type: ignore[arg-type]
        Record("ip", "A", 60, ()),
        Record("ip", "A", 60, ("192.0.2.1", "192.0.2.1")),
        Record("cname", "CNAME", 60, ("a.example.net.", "b.example.net.")),
        Record("mx", "MX", 60, ("mx.example.net.",)),
        Record("srv", "SRV", 60, ("10 5 sip.example.net.",)),
    ],
    ids=[
        "unknown-type", "unsupported-type", "negative-ttl", "huge-ttl", "str-ttl", "bool-ttl",
        "float-ttl", "outside-zone", "zone-suffix-trick", "empty-name", "empty-label", "space",
        "long-label", "long-name", "bad-ipv4", "ipv6-in-A", "ipv4-in-AAAA", "str-values",
        "no-values", "duplicate-values", "two-cnames", "mx-without-preference", "srv-short",
    ],
)
def test_invalid_records_are_rejected(dns_zone: DnsZone, record: Record) -> None:
    with pytest.raises(InvalidInput) as caught:
        dns_zone.upsert_record(record)
    assert str(caught.value)  # a message that says what is wrong
    assert ours(dns_zone, dns_zone.list_records()) == {}


@pytest.mark.parametrize(
    ("name", "rtype"),
    [("www", "BOGUS"), ("www.elsewhere.org.", "A"), ("bad..name", "A"), ("", "A")],
)
def test_invalid_lookups_are_rejected(dns_zone: DnsZone, name: str, rtype: str) -> None:
    with pytest.raises(InvalidInput):
        dns_zone.get_record(name, rtype)
    with pytest.raises(InvalidInput):
        dns_zone.delete_record(name, rtype)
