"""The two EC2 regions on one moto server, seen without the library: images and a head count.

The demo's pools reach EC2 through `failover.providers.aws.ec2.EC2Compute`; everything
here uses plain boto3 clients straight to moto, which is how the demo sets a region up,
goes behind the pools' back, and counts what really runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3

from failover.controllers.standby import ROLE_TAG

PRIMARY_REGION = "us-east-1"
STANDBY_REGION = "us-west-2"
REGIONS = (PRIMARY_REGION, STANDBY_REGION)
LIVE_STATES = ("pending", "running")  # what the pool counts as capacity
IMAGE_NAME = "standby-demo-web"


def local_session() -> boto3.session.Session:
    """A boto3 session with moto's dummy keys: the demo never reads real AWS credentials."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def raw_ec2(endpoint: str, region: str) -> Any:
    """A plain EC2 client on ``endpoint``, in ``region``."""
    return local_session().client("ec2", region_name=region, endpoint_url=endpoint)


def register_image(client: Any) -> str:
    """Register the web server's AMI in the client's region and return its id.

    An AMI belongs to one region, as on real EC2, so each region gets its own id and the
    pool needs a spec per region (``StandbyPool(specs=...)``).
    """
    response = client.register_image(
        Name=IMAGE_NAME,
        Description="web server image for the standby demo",
        Architecture="x86_64",
        VirtualizationType="hvm",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )
    return str(response["ImageId"])


def _live(client: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    filters = [*filters, {"Name": "instance-state-name", "Values": list(LIVE_STATES)}]
    pages = client.get_paginator("describe_instances").paginate(Filters=filters)
    return [instance for page in pages for r in page["Reservations"] for instance in r["Instances"]]


def live_by_role(client: Any, roles: Iterable[str]) -> dict[str, int]:
    """How many instances of each role are pending or running in the client's region."""
    roles = list(roles)
    counts: Counter[str] = Counter()
    for instance in _live(client, [{"Name": f"tag:{ROLE_TAG}", "Values": roles}]):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        counts[tags[ROLE_TAG]] += 1
    return {role: counts[role] for role in roles}


def terminate_newest(client: Any, role: str) -> str | None:
    """Terminate the newest live instance of ``role`` (a machine lost to a hardware fault)."""
    instances = _live(client, [{"Name": f"tag:{ROLE_TAG}", "Values": [role]}])
    if not instances:
        return None
    newest = max(instances, key=lambda i: i["LaunchTime"])
    client.terminate_instances(InstanceIds=[newest["InstanceId"]])
    return str(newest["InstanceId"])


__all__ = [
    "LIVE_STATES",
    "PRIMARY_REGION",
    "REGIONS",
    "STANDBY_REGION",
    "live_by_role",
    "local_session",
    "raw_ec2",
    "register_image",
    "terminate_newest",
]
