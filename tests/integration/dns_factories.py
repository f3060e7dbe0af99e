"""Contract-suite factories for the real DNS adapters: Route 53 on moto, RFC 2136 on BIND.

Each returns a fresh zone that holds nothing but its apex SOA and NS sets.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import bind as bind_harness
from tests.integration import servers

# One boto3 Session for the whole test run, kept in pytest's stash (not in a module global):
# a new Session loads the service model again, 0.2-1.3 s per test (measured), while a
# client from a warm Session takes ~10 ms.
_SESSION = pytest.StashKey[Any]()


def aws_session(request: pytest.FixtureRequest) -> Any:
    session = request.config.stash.get(_SESSION, None)
    if session is None:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        request.config.stash[_SESSION] = session
    return session


def new_hosted_zone(request: pytest.FixtureRequest, server: servers.LocalServer) -> str:
    """A new, empty hosted zone with a unique name; returns the name."""
    name = f"{servers.unique('contract')}.test."
    raw = aws_session(request).client("route53", endpoint_url=server.endpoint)
    raw.create_hosted_zone(Name=name, CallerReference=name)
    return name


def route53_zone_factory(request: pytest.FixtureRequest) -> Any:
    """A Route53Zone on a hosted zone of its own on the session's moto (us-east-1)."""
    from failover.providers.aws.route53 import Route53Zone

    server = servers.alive(request.getfixturevalue("moto_east"))
    name = new_hosted_zone(request, server)
    return Route53Zone(name, endpoint_url=server.endpoint, session=aws_session(request))


def rfc2136_zone(bind: bind_harness.BindServer, /, **overrides: Any) -> Any:
    from failover.providers.dns import Rfc2136Zone

    settings: dict[str, Any] = {
        "server": bind.host,
        "port": bind.port,
        "tsig_key_name": bind.key_name,
        "tsig_secret": bind.tsig_secret,
        "tsig_algorithm": bind.key_algorithm,
        "timeout": 2.0,
        **overrides,
    }
    return Rfc2136Zone(bind.zone, **settings)


def rfc2136_zone_factory(request: pytest.FixtureRequest) -> Any:
    """An Rfc2136Zone on the session's BIND zone, emptied first (one zone, tests in turn)."""
    server = bind_harness.alive(request.getfixturevalue("bind"))
    server.clear_zone()
    return rfc2136_zone(server)
