"""Compute-contract factories for the cloud adapters: EC2 on moto, Azure VMs and GCE on fakes.

The contract wants a fresh, *empty* provider per test.  EC2 has no per-test namespace
(a region is a region), so the EC2 factory uses a moto process of its own, started
once per session, and resets its state before each test; the shared ``moto_east`` /
``moto_west`` processes also hold other suites' buckets and must not be reset.  That
process also runs with moto's AMI and instance-type validation on, so an unknown type
or image is refused as real EC2 refuses it.
"""

from __future__ import annotations

import http.client
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration import servers

# An AMI that moto ships in every region (Amazon Linux 2 in moto's default image set).
MOTO_AMI = "ami-03cf127a"
MOTO_INSTANCE_TYPE = "t3.micro"

_EC2_SERVER = pytest.StashKey[servers.LocalServer]()


def validating_moto(name: str = "moto-ec2-contract") -> servers.LocalServer:
    """A moto_server that refuses unknown AMIs and instance types, like EC2."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    return servers.LocalServer(
        name,
        lambda port, _: [exe, "-H", "127.0.0.1", "-p", str(port)],
        ready_path="/moto-api/",
        env={"MOTO_ENABLE_AMI_VALIDATION": "true", "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"},
    )


def reset_moto(server: servers.LocalServer) -> None:
    """Forget every resource in that moto process (moto's own reset endpoint)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", "/moto-api/reset")
        response = conn.getresponse()
        response.read()
        assert response.status == 200, f"moto reset answered {response.status}"
    finally:
        conn.close()


def _ec2_server(request: pytest.FixtureRequest) -> servers.LocalServer:
    request.getfixturevalue("loopback_env")  # dummy credentials, no metadata lookups
    stash = request.config.stash
    server = stash.get(_EC2_SERVER, None)
    if server is None:
        server = validating_moto()
        try:
            server.start()
        except servers.ServerError as exc:
            server.close()
            pytest.fail(f"could not start moto for the EC2 contract: {exc}", pytrace=False)
        stash[_EC2_SERVER] = server
        request.config.add_cleanup(server.close)
    return servers.alive(server)


def ec2_case(request: pytest.FixtureRequest) -> Any:
    from failover.providers.aws.ec2 import EC2Compute
    from tests.contract.conftest import ComputeCase

    server = _ec2_server(request)
    reset_moto(server)
    # Long read timeout: moto loads its default AMIs on the first EC2 call (~5 s).
    compute = EC2Compute("us-east-1", endpoint_url=server.endpoint, read_timeout=60.0)
    # moto answers "pending" at launch and "running" on the next describe.
    return ComputeCase(compute, MOTO_INSTANCE_TYPE, MOTO_AMI, settle_seconds=5.0)


def azure_case(request: pytest.FixtureRequest) -> Any:
    from tests.contract.conftest import ComputeCase
    from tests.fakes.azure_compute import FakeAzureCompute

    fake = FakeAzureCompute()
    return ComputeCase(fake.adapter(), fake.vm_size, fake.image)


def gce_case(request: pytest.FixtureRequest) -> Any:
    from tests.contract.conftest import ComputeCase
    from tests.fakes.gce import FakeGce

    fake = FakeGce()
    return ComputeCase(fake.adapter(), fake.machine_type, fake.image)
