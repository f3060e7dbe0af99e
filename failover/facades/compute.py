"""`FailoverCompute`: instances across regions and clouds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from failover.capabilities import Capability, Compute, Instance, InstanceSpec
from failover.errors import FailoverError, InvalidInput
from failover.facades.base import Facade
from failover.routing.router import Member


class FailoverCompute(Facade[Compute]):
    """A `Compute` facade.

    An instance lives on one target, so calls about one instance name it
    (``target=``) and go there alone.  ``create_instance`` goes to the healthiest
    target and is never retried elsewhere: a blind retry could start two machines.
    """

    kind = "compute"
    capability = Capability.COMPUTE
    read_operations = frozenset({"list_instances", "describe_instance"})

    def list_instances(self, tags: Mapping[str, str] | None = None, *, target: str | None = None) -> Iterator[Instance]:
        """Instances of one target (``target``), else of the healthiest one."""

        def call(m: Member[Compute]) -> list[Instance]:
            return list(m.provider.list_instances(tags))

        if target is None:
            return iter(self._read("list_instances", call))
        return iter(self._pinned(target, "list_instances", call))

    def list_all_instances(self, tags: Mapping[str, str] | None = None) -> dict[str, list[Instance] | FailoverError]:
        """Every target's instances, by target name in priority order.

        A target that cannot answer maps to its error instead of failing the whole
        listing: a fleet view must survive one region being down.  Targets the router
        currently skips (health down, breaker open) are not called at all.
        """
        result: dict[str, list[Instance] | FailoverError] = {}
        for target in sorted(self.pool.targets, key=lambda t: t.priority):
            try:
                result[target.name] = list(self.list_instances(tags, target=target.name))
            except FailoverError as exc:
                result[target.name] = exc
        return result

    def describe_instance(self, instance_id: str, *, target: str) -> Instance:
        _check_id(instance_id)
        return self._pinned(target, "describe_instance", lambda m: m.provider.describe_instance(instance_id))

    def start_instance(self, instance_id: str, *, target: str) -> Instance:
        _check_id(instance_id)
        return self._pinned(target, "start_instance", lambda m: m.provider.start_instance(instance_id))

    def stop_instance(self, instance_id: str, *, target: str) -> Instance:
        _check_id(instance_id)
        return self._pinned(target, "stop_instance", lambda m: m.provider.stop_instance(instance_id))

    def terminate_instance(self, instance_id: str, *, target: str) -> None:
        _check_id(instance_id)
        self._pinned(target, "terminate_instance", lambda m: m.provider.terminate_instance(instance_id))

    def create_instance(self, spec: InstanceSpec, *, target: str | None = None) -> Instance:
        if not isinstance(spec, InstanceSpec):
            raise InvalidInput(f"create_instance takes an InstanceSpec, not {type(spec).__name__}")
        if target is not None:
            return self._pinned(target, "create_instance", lambda m: m.provider.create_instance(spec), idempotent=False)
        return self._write("create_instance", lambda m: m.provider.create_instance(spec), idempotent=False)


def _check_id(instance_id: str) -> None:
    if not isinstance(instance_id, str) or not instance_id:
        raise InvalidInput(f"instance id must be a non-empty str, got {instance_id!r}")


__all__ = ["FailoverCompute"]
