"""An in-memory `Compute`: instances that change state instantly."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from failover.capabilities import Instance, InstanceSpec, InstanceState
from failover.clock import Clock, SystemClock
from failover.errors import ConfigError, InvalidInput, NotFound, PreconditionFailed
from failover.providers._common import check_instance_id

DEFAULT_INSTANCE_TYPES: frozenset[str] = frozenset({"small", "medium", "large"})
DEFAULT_IMAGES: frozenset[str] = frozenset({"debian-12"})


def _copy_tags(tags: Mapping[str, str] | None, what: str) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"{what} must be a mapping of str to str, not {type(tags).__name__}")
    copied = dict(tags)
    for name, value in copied.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise InvalidInput(f"{what} must map non-empty str to str, got {name!r}: {value!r}")
    return copied


def _names(values: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(values, str):
        raise ConfigError(f"{what} must be a collection of names, not the single str {values!r}")
    names = frozenset(values)
    if not names or not all(isinstance(v, str) and v for v in names):
        raise ConfigError(f"{what} must be a non-empty collection of non-empty str")
    return names


class MemoryCompute:
    """Instances in a dict, guarded by one lock; every transition is immediate.

    * ids are ``"i-"`` and a zero-padded hex counter (``i-00000001``), in creation order;
      each instance gets one private address ``10.x.y.z`` derived from the counter.
    * ``create_instance`` gives a RUNNING instance; ``stop``/``start`` move between
      RUNNING and STOPPED (repeating one is a no-op); either on a TERMINATED instance
      raises `PreconditionFailed`.
    * ``terminate_instance`` is idempotent for known ids; an unknown id is `NotFound`.
    * Terminated instances stay visible, like EC2's: ``describe_instance`` and
      ``list_instances`` report them with state TERMINATED (callers filter on state).
    * ``instance_type`` and ``image`` must be among the configured names, as a cloud
      only knows its own machine types and images; anything else is `InvalidInput`.
    * ``created`` is ``clock.monotonic()`` at creation.
    """

    def __init__(
        self,
        region: str = "memory-a",
        *,
        instance_types: Iterable[str] = DEFAULT_INSTANCE_TYPES,
        images: Iterable[str] = DEFAULT_IMAGES,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(region, str) or not region:
            raise ConfigError(f"region must be a non-empty str, not {region!r}")
        self._region = region
        self._instance_types = _names(instance_types, "instance_types")
        self._images = _names(images, "images")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._instances: dict[str, Instance] = {}
        self._counter = 0
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return self._region

    @property
    def instance_types(self) -> frozenset[str]:
        return self._instance_types

    @property
    def images(self) -> frozenset[str]:
        return self._images

    def create_instance(self, spec: InstanceSpec) -> Instance:
        if not isinstance(spec, InstanceSpec):
            raise InvalidInput(f"expected an InstanceSpec, not {type(spec).__name__}")
        if not isinstance(spec.name, str) or not spec.name:
            raise InvalidInput(f"instance name must be a non-empty str, not {spec.name!r}")
        if spec.instance_type not in self._instance_types:
            raise InvalidInput(
                f"unknown instance type {spec.instance_type!r} in region {self._region}: "
                f"use one of {', '.join(sorted(self._instance_types))}"
            )
        if spec.image not in self._images:
            raise InvalidInput(
                f"unknown image {spec.image!r} in region {self._region}: "
                f"use one of {', '.join(sorted(self._images))}"
            )
        tags = _copy_tags(spec.tags, "tags")
        created = self._clock.monotonic()
        with self._lock:
            self._counter += 1
            number = self._counter
            instance = Instance(
                id=f"i-{number:08x}",
                name=spec.name,
                state=InstanceState.RUNNING,
                region=self._region,
                instance_type=spec.instance_type,
                image=spec.image,
                tags=tags,
                addresses=(f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}",),
                created=created,
            )
            self._instances[instance.id] = instance
        return _fresh(instance)

    def describe_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        with self._lock:
            instance = self._instances.get(instance_id)
        if instance is None:
            raise NotFound(
                f"instance {instance_id!r} not found in {self._region}", operation="describe_instance"
            )
        return _fresh(instance)

    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        """Instances carrying every given tag (terminated ones included), in creation order."""
        wanted = _copy_tags(tags, "tag filter")
        return self._iterate(wanted)

    def _iterate(self, wanted: dict[str, str]) -> Iterator[Instance]:
        with self._lock:
            snapshot = list(self._instances.values())  # dicts keep creation order
        for instance in snapshot:
            if all(instance.tags.get(name) == value for name, value in wanted.items()):
                yield _fresh(instance)

    def start_instance(self, instance_id: str) -> Instance:
        return self._transition(instance_id, "start_instance", InstanceState.RUNNING)

    def stop_instance(self, instance_id: str) -> Instance:
        return self._transition(instance_id, "stop_instance", InstanceState.STOPPED)

    def terminate_instance(self, instance_id: str) -> None:
        self._transition(instance_id, "terminate_instance", InstanceState.TERMINATED)

    def _transition(self, instance_id: str, operation: str, state: InstanceState) -> Instance:
        check_instance_id(instance_id)
        with self._lock:
            instance = self._instances.get(instance_id)
            if instance is None:
                raise NotFound(f"instance {instance_id!r} not found in {self._region}", operation=operation)
            if instance.state is InstanceState.TERMINATED and state is not InstanceState.TERMINATED:
                raise PreconditionFailed(
                    f"instance {instance_id} is terminated and cannot be "
                    f"{'started' if state is InstanceState.RUNNING else 'stopped'}",
                    operation=operation,
                )
            if instance.state is not state:
                instance = replace(instance, state=state)
                self._instances[instance_id] = instance
        return _fresh(instance)

    def probe(self) -> None:
        """Cheap health check: the region is healthy when its lock can be taken."""
        with self._lock:
            pass

    def __repr__(self) -> str:
        return f"MemoryCompute(region={self._region!r}, instances={len(self._instances)})"


def _fresh(instance: Instance) -> Instance:
    # Instance is frozen but its tags dict is not: hand each caller its own copy.
    return replace(instance, tags=dict(instance.tags))


__all__ = ["DEFAULT_IMAGES", "DEFAULT_INSTANCE_TYPES", "MemoryCompute"]
