"""The `DnsZone` contract for values and names: one TXT model, zone-file names, one order.

Run on every zone of tests/contract/conftest.py (memory, BIND, moto Route 53, the Azure and
Cloud DNS fakes).  What each server holds on the wire is checked in
tests/integration/test_dns_wire.py.
"""

from __future__ import annotations

import pytest

from failover.capabilities import DnsZone, Record
from failover.errors import InvalidInput, NotFound

SPF = "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 ~all"
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 12  # 546 bytes, three strings
QUOTED = 'say "hi" \\ o/; then \\"leave\\"'


def fqdn(zone: DnsZone, relative: str) -> str:
    return f"{relative}.{zone.zone}"


def round_trip(zone: DnsZone, record: Record) -> Record:
    stored = zone.upsert_record(record)
    fetched = zone.get_record(record.name, record.type)
    assert fetched == stored
    listed = [r for r in zone.list_records() if (r.name, r.type) == (stored.name, stored.type)]
    assert listed == [stored]
    return stored


# ---------------------------------------------------------------- TXT


@pytest.mark.parametrize(
    "value",
    [SPF, DKIM, QUOTED, "x" * 255, "y" * 256, "z" * 1024, "a;b", "#not a comment", "tab\\tand\\000 stay text"],
    ids=["spf", "dkim", "quotes", "255-bytes", "256-bytes", "1024-bytes", "semicolon", "hash", "backslashes"],
)
def test_txt_value_is_one_logical_string(dns_zone: DnsZone, value: str) -> None:
    stored = round_trip(dns_zone, Record("txt", "TXT", 60, (value,)))
    assert stored.values == (value,)


def test_txt_values_are_separate_records(dns_zone: DnsZone) -> None:
    values = ("b=2", SPF, "a=1; c=3")
    stored = round_trip(dns_zone, Record("_dmarc", "TXT", 60, values))
    assert stored.values == tuple(sorted(values))


@pytest.mark.parametrize(
    "value",
    ['"v=spf1 -all"', '"a" "b"', "x" * 1025, "caf\u00e9", "line\nbreak", " leading", "trailing ", ""],
    ids=["zone-file-quoted", "zone-file-strings", "too-long", "non-ascii", "control", "leading", "trailing", "empty"],
)
def test_txt_values_outside_the_model_are_refused(dns_zone: DnsZone, value: str) -> None:
    with pytest.raises(InvalidInput, match="TXT value"):
        dns_zone.upsert_record(Record("txt", "TXT", 60, (value,)))
    with pytest.raises(NotFound):
        dns_zone.get_record("txt", "TXT")


# ---------------------------------------------------------------- names in values


@pytest.mark.parametrize(
    ("rtype", "given", "stored"),
    [
        ("CNAME", ("www",), ("www.{zone}",)),
        ("CNAME", ("@",), ("{zone}",)),
        ("CNAME", ("WWW.Example.NET.",), ("www.example.net.",)),
        ("MX", ("20 mail", "10 MX.example.net."), ("10 mx.example.net.", "20 mail.{zone}")),
        ("MX", ("0 .",), ("0 .",)),
        ("SRV", ("10 5 5060 sip",), ("10 5 5060 sip.{zone}",)),
        ("NS", ("ns1.example.net.", "ns2.example.net"), ("ns1.example.net.", "ns2.example.net.{zone}")),
    ],
    ids=["cname-relative", "cname-apex", "cname-upper", "mx", "null-mx", "srv-relative", "ns-relative-dotted"],
)
def test_names_in_values_follow_zone_file_meaning(
    dns_zone: DnsZone, rtype: str, given: tuple[str, ...], stored: tuple[str, ...]
) -> None:
    name = {"SRV": "_sip._tcp", "NS": "sub"}.get(rtype, "here")
    for host in ("mail", "sip"):  # servers refuse an in-zone mail exchange without an address
        dns_zone.upsert_record(Record(host, "A", 60, ("192.0.2.25",)))
    record = round_trip(dns_zone, Record(name, rtype, 60, given))
    assert record.values == tuple(v.format(zone=dns_zone.zone) for v in stored)


def test_get_and_upsert_show_values_in_one_order(dns_zone: DnsZone) -> None:
    given = ("192.0.2.30", "192.0.2.4", "192.0.2.200", "192.0.2.1")
    stored = round_trip(dns_zone, Record("many", "A", 60, given))
    assert stored.values == tuple(sorted(given))


def test_apex_ns_upsert_returns_what_the_zone_holds(dns_zone: DnsZone) -> None:
    try:
        original: Record | None = dns_zone.get_record("@", "NS")
    except NotFound:
        original = None  # the in-memory zone starts without one
    try:
        wanted = ("ns-a.example.net.", "ns-b.example.org.")
        stored = dns_zone.upsert_record(Record("@", "NS", 3600, wanted))
        assert stored == dns_zone.get_record("@", "NS") == Record(dns_zone.zone, "NS", 3600, wanted)
        # Replacing it again drops the servers no longer wanted.
        again = dns_zone.upsert_record(Record("@", "NS", 1800, ("ns-c.example.net.",)))
        assert again == dns_zone.get_record("@", "NS") == Record(dns_zone.zone, "NS", 1800, ("ns-c.example.net.",))
    finally:
        if original is not None:  # a server's zone is shared by the tests that follow
            dns_zone.upsert_record(original)


# ---------------------------------------------------------------- host-name rules


@pytest.mark.parametrize(
    "record",
    [
        Record("web-", "A", 60, ("192.0.2.1",)),
        Record("-web", "A", 60, ("192.0.2.1",)),
        Record("_", "A", 60, ("192.0.2.1",)),
        Record("a_b", "AAAA", 60, ("2001:db8::1",)),
        Record("_mail", "MX", 60, ("10 mx.example.net.",)),
        Record("mail", "MX", 60, ("10 mx-.example.net.",)),
        Record("sub", "NS", 60, ("_ns.example.net.",)),
        Record("_sip._tcp", "SRV", 60, ("10 5 5060 _sip.example.net.",)),
    ],
    ids=["trailing-hyphen", "leading-hyphen", "bare-underscore", "underscore-aaaa", "mx-owner", "mx-target",
         "ns-target", "srv-target"],
)
def test_names_a_server_refuses_are_refused(dns_zone: DnsZone, record: Record) -> None:
    with pytest.raises(InvalidInput, match="host name"):
        dns_zone.upsert_record(record)
    with pytest.raises(NotFound):
        dns_zone.get_record(record.name, record.type)


@pytest.mark.parametrize(
    "record",
    [
        Record("_dmarc", "TXT", 60, ("v=DMARC1; p=none",)),
        Record("_acme-challenge", "CNAME", 60, ("_acme-challenge.example.net.",)),
        Record("web-", "TXT", 60, ("ok",)),
        Record("*.wild", "MX", 60, ("10 mx.example.net.",)),
        Record("a1-b2", "A", 60, ("192.0.2.1",)),
    ],
    ids=["txt-underscore", "cname-underscore", "txt-hyphen", "wildcard-mx", "inner-hyphen"],
)
def test_names_a_server_takes_are_taken(dns_zone: DnsZone, record: Record) -> None:
    round_trip(dns_zone, record)
