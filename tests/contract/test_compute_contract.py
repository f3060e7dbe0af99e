"""The `Compute` contract: instance lifecycle, tag filters, and refusals."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from failover.capabilities import (
    OPERATIONS,
    Capability,
    Compute,
    Instance,
    InstanceSpec,
    InstanceState,
    supported_operations,
)
from failover.errors import InvalidInput, InvalidRequest, NotFound, PreconditionFailed

if TYPE_CHECKING:  # only for annotations: conftest modules are not importable by name
    from conftest import ComputeCase


def spec(case: ComputeCase, name: str, **tags: str) -> InstanceSpec:
    return InstanceSpec(name=name, instance_type=case.instance_type, image=case.image, tags=tags)


def settle(case: ComputeCase, instance_id: str, state: InstanceState) -> Instance:
    """The instance once it reached ``state``; immediate providers are never waited for."""
    deadline = time.monotonic() + case.settle_seconds
    while True:
        instance = case.provider.describe_instance(instance_id)
        if instance.state is state or time.monotonic() >= deadline:
            assert instance.state is state
            return instance
        time.sleep(0.05)


def ids(instances: Iterator[Instance]) -> set[str]:
    return {i.id for i in instances}


def test_declares_every_compute_operation(compute: Compute) -> None:
    assert supported_operations(compute) >= OPERATIONS[Capability.COMPUTE]
    probe = getattr(compute, "probe", None)
    if probe is not None:
        assert probe() is None


def test_create_and_describe(compute_case: ComputeCase) -> None:
    compute = compute_case.provider
    created = compute.create_instance(spec(compute_case, "web-1", app="web", env="prod"))
    assert created.id and isinstance(created.id, str)
    assert created.name == "web-1"
    assert created.region
    assert created.instance_type == compute_case.instance_type
    assert created.image == compute_case.image
    assert dict(created.tags) == {"app": "web", "env": "prod"}
    assert created.state in {InstanceState.PENDING, InstanceState.RUNNING}
    running = settle(compute_case, created.id, InstanceState.RUNNING)
    assert (running.id, running.name, running.region) == (created.id, "web-1", created.region)
    assert dict(running.tags) == {"app": "web", "env": "prod"}


def test_ids_are_unique(compute_case: ComputeCase) -> None:
    made = [compute_case.provider.create_instance(spec(compute_case, f"n{i}")).id for i in range(5)]
    assert len(set(made)) == 5


def test_tags_are_copied(compute_case: ComputeCase) -> None:
    tags = {"app": "web"}
    created = compute_case.provider.create_instance(
        InstanceSpec("copy", compute_case.instance_type, compute_case.image, tags)
    )
    tags["app"] = "changed"
    created.tags["app"] = "tampered"  # type: ignore[index]
    assert dict(compute_case.provider.describe_instance(created.id).tags) == {"app": "web"}


def test_list_filters_on_every_given_tag(compute_case: ComputeCase) -> None:
    compute = compute_case.provider
    web_prod = compute.create_instance(spec(compute_case, "a", app="web", env="prod")).id
    web_dev = compute.create_instance(spec(compute_case, "b", app="web", env="dev")).id
    db_prod = compute.create_instance(spec(compute_case, "c", app="db", env="prod")).id
    listing = compute.list_instances({"app": "web"})
    assert isinstance(listing, Iterator)
    assert ids(listing) == {web_prod, web_dev}
    assert ids(compute.list_instances({"app": "web", "env": "prod"})) == {web_prod}
    assert ids(compute.list_instances({"env": "prod"})) == {web_prod, db_prod}
    assert ids(compute.list_instances({"app": "nope"})) == set()
    assert ids(compute.list_instances({"app": "web", "env": "staging"})) == set()
    assert ids(compute.list_instances()) >= {web_prod, web_dev, db_prod}
    assert ids(compute.list_instances({})) >= {web_prod, web_dev, db_prod}


def test_stop_and_start(compute_case: ComputeCase) -> None:
    compute = compute_case.provider
    instance_id = compute.create_instance(spec(compute_case, "cycle")).id
    settle(compute_case, instance_id, InstanceState.RUNNING)
    stopped = compute.stop_instance(instance_id)
    assert stopped.id == instance_id
    assert stopped.state in {InstanceState.STOPPING, InstanceState.STOPPED}
    settle(compute_case, instance_id, InstanceState.STOPPED)
    started = compute.start_instance(instance_id)
    assert started.state in {InstanceState.PENDING, InstanceState.RUNNING}
    settle(compute_case, instance_id, InstanceState.RUNNING)


def test_terminate(compute_case: ComputeCase) -> None:
    compute = compute_case.provider
    keep = compute.create_instance(spec(compute_case, "keep", app="t")).id
    gone = compute.create_instance(spec(compute_case, "gone", app="t")).id
    compute.terminate_instance(gone)
    compute.terminate_instance(gone)  # idempotent
    # Terminated instances either stay visible as TERMINATED (EC2) or vanish (GCE, Azure).
    with contextlib.suppress(NotFound):
        assert compute.describe_instance(gone).state is InstanceState.TERMINATED
    listed = {i.id: i.state for i in compute.list_instances({"app": "t"})}
    assert keep in listed
    assert listed.get(gone, InstanceState.TERMINATED) is InstanceState.TERMINATED
    with pytest.raises((PreconditionFailed, NotFound)):
        compute.start_instance(gone)
    with pytest.raises((PreconditionFailed, NotFound)):
        compute.stop_instance(gone)


@pytest.mark.parametrize(
    "field",
    ["instance_type", "image"],
)
def test_unknown_type_or_image_is_refused(compute_case: ComputeCase, field: str) -> None:
    values = {"instance_type": compute_case.instance_type, "image": compute_case.image}
    values[field] = "no-such-" + field.replace("_", "-")
    with pytest.raises((InvalidInput, InvalidRequest)) as caught:
        compute_case.provider.create_instance(InstanceSpec(name="bad", **values))
    assert "no-such-" in str(caught.value)
    assert ids(compute_case.provider.list_instances()) == set()


@pytest.mark.parametrize("operation", ["describe_instance", "start_instance", "stop_instance"])
def test_missing_instance_is_not_found(compute: Compute, operation: str) -> None:
    with pytest.raises(NotFound) as caught:
        getattr(compute, operation)("i-0123456789abcdef0")
    assert not caught.value.temporary
    with pytest.raises(FileNotFoundError):
        getattr(compute, operation)("i-0123456789abcdef0")
