"""Refusals that name their real cause: BIND's permission vs. its own checks, and Route 53
record sets a `Record` cannot hold (alias, routing policy), left untouched."""

from __future__ import annotations

from typing import Any

import pytest

from failover.capabilities import Record
from failover.errors import InvalidRequest, PermissionDenied, Unsupported
from failover.providers.aws.route53 import Route53Zone
from failover.providers.dns import Rfc2136Zone
from tests.integration import dns_factories
from tests.integration.bind import BindServer
from tests.integration.servers import LocalServer
from tests.integration.servers import alive as alive_http

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- BIND




def test_bind_refusal_of_a_key_without_rights_is_permission_denied(server: BindServer) -> None:
    readonly = dns_factories.rfc2136_zone(
        server, tsig_key_name=server.readonly_key_name, tsig_secret=server.readonly_secret
    )
    with pytest.raises(PermissionDenied, match="may not update the zone"):
        readonly.upsert_record(Record("www", "A", 60, ("192.0.2.1",)))
    with pytest.raises(PermissionDenied, match="may not update the zone"):
        readonly.delete_record("www", "A")


def test_bind_refusal_by_its_integrity_checks_is_an_invalid_request(zone: Rfc2136Zone) -> None:
    before = zone.get_record("@", "NS")
    # check-integrity: an in-zone name server needs an address record.
    with pytest.raises(InvalidRequest, match="check-integrity") as caught:
        zone.upsert_record(Record("@", "NS", 300, (f"ns-new.{zone.zone}",)))
    assert not caught.value.temporary
    assert zone.get_record("@", "NS") == before
    # check-mx-cname: a mail exchange that is a CNAME.
    zone.upsert_record(Record("mx-alias", "CNAME", 60, ("mx.example.net.",)))
    with pytest.raises(InvalidRequest, match="REFUSED by the server's checks"):
        zone.upsert_record(Record("mail", "MX", 60, ("10 mx-alias",)))


# ---------------------------------------------------------------- Route 53 routing-policy and alias sets


@pytest.fixture
def route53(request: pytest.FixtureRequest, moto_east: LocalServer) -> Route53Zone:
    alive_http(moto_east)
    made: Route53Zone = dns_factories.route53_zone_factory(request)
    return made


def change(request: pytest.FixtureRequest, zone: Route53Zone, *rrsets: dict[str, Any]) -> Any:
    raw = dns_factories.aws_session(request).client("route53", endpoint_url=zone.endpoint_url)
    raw.change_resource_record_sets(
        HostedZoneId=zone.hosted_zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in rrsets]},
    )
    return raw


def sets_named(raw: Any, zone: Route53Zone, name: str) -> list[dict[str, Any]]:
    listed = raw.list_resource_record_sets(HostedZoneId=zone.hosted_zone_id)["ResourceRecordSets"]
    return [s for s in listed if s["Name"] == f"{name}.{zone.zone}"]


def refused_everywhere(zone: Route53Zone, name: str) -> None:
    for call in (
        lambda: zone.get_record(name, "A"),
        lambda: zone.delete_record(name, "A"),
        lambda: zone.upsert_record(Record(name, "A", 60, ("192.0.2.99",))),
    ):
        with pytest.raises(Unsupported) as caught:
            call()
        assert not caught.value.temporary
    assert name not in {r.name.split(".")[0] for r in zone.list_records()}


def test_route53_weighted_group_is_refused_and_left_whole(request: pytest.FixtureRequest, route53: Route53Zone) -> None:
    members = [
        {"Name": f"api.{route53.zone}", "Type": "A", "TTL": 60, "SetIdentifier": ident, "Weight": weight,
         "ResourceRecords": [{"Value": address}]}
        for ident, weight, address in (("blue", 90, "192.0.2.1"), ("green", 10, "192.0.2.2"))
    ]
    raw = change(request, route53, *members)
    refused_everywhere(route53, "api")
    assert sorted(s["SetIdentifier"] for s in sets_named(raw, route53, "api")) == ["blue", "green"]


def test_route53_alias_set_is_refused_and_left_alone(request: pytest.FixtureRequest, route53: Route53Zone) -> None:
    route53.upsert_record(Record("origin", "A", 60, ("192.0.2.7",)))
    alias = {"Name": f"edge.{route53.zone}", "Type": "A", "AliasTarget": {
        "HostedZoneId": route53.hosted_zone_id, "DNSName": f"origin.{route53.zone}", "EvaluateTargetHealth": False}}
    raw = change(request, route53, alias)
    refused_everywhere(route53, "edge")
    (kept,) = sets_named(raw, route53, "edge")
    assert kept["AliasTarget"]["DNSName"].rstrip(".") == f"origin.{route53.zone}".rstrip(".")
