"""Amazon EC2 as a `Compute` provider.

Names and tags: an instance's name is its ``Name`` tag, as in the EC2 console; the
other tags are the `Instance`'s ``tags``.  Tags are set *at launch* (TagSpecifications),
never after: an instance is never visible without its ownership tags, which is what
lets `failover.controllers.standby.StandbyPool` recognise its own machines after a crash.

States: ``shutting-down`` is reported as TERMINATED, since it only ever leads there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import boto3
except ImportError as exc:
    raise missing_sdk(__name__, "ec2", exc) from exc

from failover.capabilities import Instance, InstanceSpec, InstanceState
from failover.errors import ConfigError, InvalidInput, NotFound, PreconditionFailed
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_instance_id,
    check_timeout,
    copy_tags,
    safe_url,
    timestamp,
)
from failover.providers.aws._client import make_client, map_errors

NAME_TAG = "Name"

_STATES: Mapping[str, InstanceState] = {
    "pending": InstanceState.PENDING,
    "running": InstanceState.RUNNING,
    "stopping": InstanceState.STOPPING,
    "stopped": InstanceState.STOPPED,
    "shutting-down": InstanceState.TERMINATED,
    "terminated": InstanceState.TERMINATED,
}


def check_tags(tags: Mapping[str, str] | None, what: str = "tags") -> dict[str, str]:
    """A private copy of ``tags``; `InvalidInput` unless it maps non-empty str to str."""
    copied = copy_tags(tags, what)
    for key, value in copied.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise InvalidInput(f"{what} must map non-empty str to str, got {key!r}: {value!r}")
    return copied


class EC2Compute:
    """EC2 instances in one region.

    ``session`` supplies credentials (default: a new boto3 Session, the standard chain);
    ``client`` replaces the whole client.  ``subnet_id`` and ``security_group_ids`` go to
    every launch (without them EC2 uses the default VPC).  The SDK makes one attempt with
    short timeouts: retrying elsewhere is the failover layer's job (see ``_client``).
    """

    def __init__(
        self,
        region: str,
        *,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        client: Any = None,
        subnet_id: str | None = None,
        security_group_ids: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(region, str) or not region:
            raise ConfigError(f"region must be a non-empty str, not {region!r}")
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        if isinstance(security_group_ids, str):
            raise ConfigError("security_group_ids must be a list of ids, not one str")
        self.region = region
        self.endpoint_url = endpoint_url
        self.subnet_id = subnet_id
        self.security_group_ids = tuple(security_group_ids or ())
        if client is None:
            client = make_client(
                "ec2",
                region=region,
                endpoint_url=endpoint_url,
                session=session,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        self._client = client

    def __repr__(self) -> str:
        return f"EC2Compute(region={self.region!r}, endpoint_url={safe_url(self.endpoint_url)!r})"

    def _where(self, instance_id: str | None = None) -> str:
        return f"instance {instance_id} in {self.region}" if instance_id else f"instances in {self.region}"

    # ------------------------------------------------------------ reads

    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        """Instances with every given tag, terminated ones included (EC2 shows them for ~1 h)."""
        wanted = check_tags(tags, "tag filter")
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]
        # Fetch the first page now so that an unreachable region fails at the call, where
        # the failover layer can move it, and not later while the caller iterates.
        pages = self._client.get_paginator("describe_instances").paginate(
            Filters=filters, PaginationConfig={"PageSize": 100}
        )
        with map_errors("list_instances", self._where()):
            iterator = iter(pages)
            first = next(iterator, None)
        return self._iterate(first, iterator)

    def _iterate(self, first: dict[str, Any] | None, rest: Iterator[dict[str, Any]]) -> Iterator[Instance]:
        page = first
        while page is not None:
            for reservation in page.get("Reservations", []):
                for raw in reservation.get("Instances", []):
                    yield self._instance(raw)
            with map_errors("list_instances", self._where()):
                page = next(rest, None)

    def describe_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        with map_errors("describe_instance", self._where(instance_id)):
            response = self._client.describe_instances(InstanceIds=[instance_id])
        for reservation in response.get("Reservations", []):
            for raw in reservation.get("Instances", []):
                return self._instance(raw)
        # EC2 answers InvalidInstanceID.NotFound; an empty answer means the same.
        raise NotFound(f"describe_instance {self._where(instance_id)}: no such instance", operation="describe_instance")

    def probe(self) -> None:
        """Cheap health check: DescribeAvailabilityZones answers without listing instances."""
        with map_errors("probe", f"EC2 in {self.region}"):
            self._client.describe_availability_zones()

    # ------------------------------------------------------------ writes

    def start_instance(self, instance_id: str) -> Instance:
        self._refuse_terminated(instance_id, "start_instance")
        with map_errors("start_instance", self._where(instance_id)):
            self._client.start_instances(InstanceIds=[instance_id])
        return self.describe_instance(instance_id)

    def stop_instance(self, instance_id: str) -> Instance:
        self._refuse_terminated(instance_id, "stop_instance")
        with map_errors("stop_instance", self._where(instance_id)):
            self._client.stop_instances(InstanceIds=[instance_id])
        return self.describe_instance(instance_id)

    def _refuse_terminated(self, instance_id: str, operation: str) -> None:
        # EC2 answers IncorrectInstanceState (mapped to PreconditionFailed) for a terminated
        # instance; moto starts it again.  Checking first gives one behaviour everywhere.
        if self.describe_instance(instance_id).state is InstanceState.TERMINATED:
            raise PreconditionFailed(
                f"{operation} {self._where(instance_id)}: the instance is terminated", operation=operation
            )

    def terminate_instance(self, instance_id: str) -> None:
        """Idempotent for an instance that exists or recently did; an unknown id is `NotFound`."""
        check_instance_id(instance_id)
        with map_errors("terminate_instance", self._where(instance_id)):
            self._client.terminate_instances(InstanceIds=[instance_id])

    def create_instance(self, spec: InstanceSpec) -> Instance:
        """Launch one instance, tagged at launch; it is PENDING at first."""
        if not isinstance(spec, InstanceSpec):
            raise InvalidInput(f"expected an InstanceSpec, not {type(spec).__name__}")
        if not isinstance(spec.name, str) or not spec.name:
            raise InvalidInput(f"instance name must be a non-empty str, not {spec.name!r}")
        for field, value in (("instance_type", spec.instance_type), ("image", spec.image)):
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"{field} must be a non-empty str, not {value!r}")
        tags = check_tags(spec.tags)
        if NAME_TAG in tags:
            raise InvalidInput(f"tag {NAME_TAG!r} is reserved for the instance name: use InstanceSpec.name")
        all_tags = [{"Key": NAME_TAG, "Value": spec.name}] + [{"Key": k, "Value": v} for k, v in tags.items()]
        request: dict[str, Any] = {
            "ImageId": spec.image,
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": all_tags}],
        }
        if self.subnet_id:
            request["SubnetId"] = self.subnet_id
        if self.security_group_ids:
            request["SecurityGroupIds"] = list(self.security_group_ids)
        # The message names type and image: InvalidAMIID / InvalidParameterValue answers
        # are about one of them, and the caller needs to know which region refused it.
        where = f"instance {spec.name!r} (type {spec.instance_type!r}, image {spec.image!r}) in {self.region}"
        with map_errors("create_instance", where):
            response = self._client.run_instances(**request)
        return self._instance(response["Instances"][0])

    # ------------------------------------------------------------ mapping

    def _instance(self, raw: Mapping[str, Any]) -> Instance:
        tags = {t["Key"]: t["Value"] for t in raw.get("Tags", []) or []}
        name = tags.pop(NAME_TAG, "")
        addresses = tuple(
            a for a in (raw.get("PrivateIpAddress"), raw.get("PublicIpAddress"), raw.get("Ipv6Address")) if a
        )
        state_name = str((raw.get("State") or {}).get("Name", ""))
        return Instance(
            id=str(raw["InstanceId"]),
            name=name,
            state=_STATES.get(state_name, InstanceState.PENDING),
            region=self.region,
            instance_type=str(raw.get("InstanceType", "")),
            image=str(raw.get("ImageId", "")),
            tags=tags,
            addresses=addresses,
            created=timestamp(raw.get("LaunchTime")),
        )


__all__ = ["NAME_TAG", "EC2Compute", "check_tags"]
