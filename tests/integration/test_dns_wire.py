"""What the TXT model and the name rules put on the wire of a real BIND and of moto Route 53.

BIND is asked directly with dnspython queries; Route 53 (moto has no DNS listener) is read
back through boto3, and its presentation-form values parsed by dnspython.
"""

from __future__ import annotations

from typing import Any

import dns.message
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import pytest

from failover.capabilities import Record
from failover.providers.aws.route53 import Route53Zone
from failover.providers.dns import Rfc2136Zone
from tests.integration import dns_factories
from tests.integration.bind import BindServer
from tests.integration.servers import LocalServer
from tests.integration.servers import alive as alive_http

pytestmark = pytest.mark.integration

SPF = "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 ~all"
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 12
QUOTED = 'say "hi" \\ o/; bye'


def chunks(value: str) -> tuple[bytes, ...]:
    raw = value.encode()
    return tuple(raw[i : i + 255] for i in range(0, len(raw), 255))


# ---------------------------------------------------------------- BIND




def ask(server: BindServer, name: str, rtype: str) -> dns.rrset.RRset:
    query = dns.message.make_query(f"{name}.{server.zone}", rtype)
    response = dns.query.tcp(query, server.host, port=server.port, timeout=2.0)
    (rrset,) = response.answer
    return rrset


def test_bind_serves_each_txt_value_as_one_record_of_255_byte_strings(server: BindServer, zone: Rfc2136Zone) -> None:
    zone.upsert_record(Record("mail._domainkey", "TXT", 60, (DKIM, SPF, QUOTED)))
    served = {rdata.strings for rdata in ask(server, "mail._domainkey", "TXT")}
    assert served == {chunks(DKIM), (SPF.encode(),), (QUOTED.encode(),)}
    assert len(chunks(DKIM)) == 3 and all(len(s) == 255 for s in chunks(DKIM)[:2])


def test_bind_txt_written_with_several_strings_reads_back_joined(server: BindServer, zone: Rfc2136Zone) -> None:
    key = dns.tsig.Key(server.key_name, server.tsig_secret, server.key_algorithm)
    update = dns.update.UpdateMessage(server.zone, keyring=key, keyname=key.name)
    update.replace("split", 60, "TXT", '"v=spf1 " "-all"')
    dns.query.tcp(update, server.host, port=server.port, timeout=2.0)
    assert zone.get_record("split", "TXT").values == ("v=spf1 -all",)


def test_bind_serves_relative_names_in_values_inside_the_zone(server: BindServer, zone: Rfc2136Zone) -> None:
    zone.upsert_record(Record("mx-host", "A", 60, ("192.0.2.25",)))
    zone.upsert_record(Record("alias", "CNAME", 60, ("www",)))
    zone.upsert_record(Record("@", "MX", 60, ("10 mx-host",)))
    (cname,) = ask(server, "alias", "CNAME")
    assert cname.to_text() == f"www.{server.zone}"
    query = dns.message.make_query(server.zone, "MX")
    (mx,) = dns.query.tcp(query, server.host, port=server.port, timeout=2.0).answer[0]
    assert mx.to_text() == f"10 mx-host.{server.zone}"


# ---------------------------------------------------------------- Route 53 on moto


@pytest.fixture
def route53(request: pytest.FixtureRequest, moto_east: LocalServer) -> Route53Zone:
    alive_http(moto_east)
    made: Route53Zone = dns_factories.route53_zone_factory(request)
    return made


def raw_client(request: pytest.FixtureRequest, zone: Route53Zone) -> Any:
    return dns_factories.aws_session(request).client("route53", endpoint_url=zone.endpoint_url)


def raw_values(request: pytest.FixtureRequest, zone: Route53Zone, rtype: str) -> list[str]:
    sets = raw_client(request, zone).list_resource_record_sets(HostedZoneId=zone.hosted_zone_id)
    (found,) = [s for s in sets["ResourceRecordSets"] if s["Type"] == rtype and s["Name"] != zone.zone]
    return [r["Value"] for r in found["ResourceRecords"]]


def test_route53_gets_each_txt_value_as_quoted_255_byte_strings(
    request: pytest.FixtureRequest, route53: Route53Zone
) -> None:
    route53.upsert_record(Record("t", "TXT", 60, (SPF, DKIM, QUOTED)))
    values = raw_values(request, route53, "TXT")
    parsed = {dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, v).strings for v in values}  # type: ignore[attr-defined]
    assert parsed == {chunks(DKIM), (SPF.encode(),), (QUOTED.encode(),)}
    assert f'"{SPF}"' in values
    assert '"say \\"hi\\" \\\\ o/; bye"' in values


def test_route53_txt_written_with_several_strings_reads_back_joined(
    request: pytest.FixtureRequest, route53: Route53Zone
) -> None:
    rrset = {"Name": f"split.{route53.zone}", "Type": "TXT", "TTL": 60,
             "ResourceRecords": [{"Value": '"v=spf1 " "-all"'}]}
    raw_client(request, route53).change_resource_record_sets(
        HostedZoneId=route53.hosted_zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]}
    )
    assert route53.get_record("split", "TXT").values == ("v=spf1 -all",)


def test_route53_gets_relative_names_in_values_inside_the_zone(
    request: pytest.FixtureRequest, route53: Route53Zone
) -> None:
    route53.upsert_record(Record("alias", "CNAME", 60, ("www",)))
    assert raw_values(request, route53, "CNAME") == [f"www.{route53.zone}"]
