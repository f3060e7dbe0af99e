"""The warm-standby example (``python -m examples.standby_compute``) on a moto of its own.

What runs where is read from moto with a plain boto3 client at every pass, by instance
id, not taken from the example's report: the standby region must really run the role's
instances during the outage, the primary's machines must be left alone, and the ones
created in the standby region must really be terminated after the hysteresis.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from examples.standby_compute import DemoConfig, Step, main, show_demo
from examples.standby_compute.demo import PRIMARY, ROLE, WARM_ROLE
from failover.errors import ConfigError
from tests.integration.servers import LocalServer, moto, started

pytestmark = pytest.mark.integration

FAST = DemoConfig(instances=3, standby=1, interval=10.0, failback_after=30.0, outage=20.0, timeout=0.5)
EAST, WEST = "us-east-1", "us-west-2"


@pytest.fixture(scope="module")
def demo_moto(loopback_env: None) -> Iterator[LocalServer]:
    # Its own process: the example's roles are fixed names, the shared servers hold other tests' instances.
    yield from started(lambda: moto("moto-standby-example"))


def ec2(server: LocalServer, region: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "ec2", region_name=region, endpoint_url=server.endpoint
    )


def live(client: Any, role: str) -> set[str]:
    """Ids of the pending or running instances tagged with ``role``."""
    filters = [
        {"Name": "tag:failover-role", "Values": [role]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]},
    ]
    pages = client.get_paginator("describe_instances").paginate(Filters=filters)
    return {i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]}


def states(client: Any, ids: set[str]) -> set[str]:
    response = client.describe_instances(InstanceIds=sorted(ids))
    return {i["State"]["Name"] for r in response["Reservations"] for i in r["Instances"]}


def test_standby_region_takes_over_and_gives_back(demo_moto: LocalServer) -> None:
    east, west = ec2(demo_moto, EAST), ec2(demo_moto, WEST)
    seen: list[tuple[Step, set[str], set[str], set[str]]] = []

    def observe(step: Step) -> None:
        seen.append((step, live(east, ROLE), live(west, ROLE), live(west, WARM_ROLE)))

    printed = io.StringIO()
    outcome = show_demo(FAST, demo_moto, printed, on_step=observe)
    by_event: dict[str, list[tuple[Step, set[str], set[str], set[str]]]] = {}
    for entry in seen:
        by_event.setdefault(entry[0].event, []).append(entry)

    _, east_before, west_before, warm = by_event["steady"][0]
    assert (len(east_before), west_before, len(warm)) == (3, set(), 1)

    # A machine lost in a healthy region is replaced there, not in the standby region.
    _, east_replaced, west_during, _ = by_event["instance lost"][0]
    assert len(east_replaced) == 3 and len(east_replaced - east_before) == 1 and west_during == set()

    # The first pass of the outage: us-west-2 runs the whole role, us-east-1's machines untouched.
    outage, east_outage, scaled_up, warm_outage = by_event["outage"][0]
    assert PRIMARY in outage.pool.down
    assert {e.kind for e in outage.pool.errors if e.target == PRIMARY} == {"timeout"}  # the blackhole, really
    assert len(scaled_up) == 3 and east_outage == east_replaced and warm_outage == warm

    # Recovered, but not for failback_after yet: the standby capacity stays.
    recovered = by_event["recovered"][0][0]
    assert PRIMARY not in recovered.pool.down
    back_index = next(i for i, entry in enumerate(seen) if entry[0].scaled_back)
    for step, _, west_ids, _ in seen[:back_index]:
        if step.at >= recovered.at:
            assert west_ids == scaled_up, f"scaled back too early, at {step.at:g}s"
    back, east_after, west_after, warm_after = seen[back_index]
    assert back.at - recovered.at >= FAST.failback_after
    assert west_after == set() and east_after == east_replaced and warm_after == warm
    assert states(west, scaled_up) <= {"shutting-down", "terminated"}

    # The pass after changes nothing, and the example's verdict agrees with moto.
    last = seen[-1]
    assert last[0].event == "steady" and last[0].pool.actions == () and last[1:] == seen[back_index][1:]
    assert outcome.ok and outcome.failed_back is back
    rows = printed.getvalue().splitlines()
    assert sum(1 for row in rows if row.split()[1:2] == ["outage"]) == len(by_event["outage"])
    assert rows[-1] == "OK"


def test_the_command_runs_its_own_moto_and_prints_the_timeline(loopback_env: None) -> None:
    out = io.StringIO()
    assert main(["--instances", "2", "--failback-after", "20", "--outage", "10"], out=out) == 0, out.getvalue()
    rows = out.getvalue().splitlines()
    assert any("outage" in row and "create 2 in us-west-2" in row for row in rows), out.getvalue()
    assert any("settling" in row and "terminate 2 in us-west-2" in row for row in rows), out.getvalue()
    assert rows[-1] == "OK"


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--instances", "0"], "instances"), (["--standby", "-1"], "standby"), (["--interval", "0"], "interval")],
)
def test_bad_arguments_exit_2_naming_them(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, out=io.StringIO()) == 2
    assert named in capsys.readouterr().err


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ConfigError, match="failback_after"):
        DemoConfig(failback_after=-1.0)
    with pytest.raises(ConfigError, match="instances"):
        DemoConfig(instances=True)
