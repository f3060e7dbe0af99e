"""Azure VM and GCE adapters through the real SDKs, over fake HTTP transports (tests/fakes).

What the contract suite does not cover: error mapping, paging, state mapping, and that no
credential leaks into a repr or an error message.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import ServiceRequestError

from failover import InstanceSpec, InstanceState
from failover.errors import (
    AlreadyExists,
    ConfigError,
    InvalidInput,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProviderError,
    Throttled,
    Unavailable,
)
from tests.fakes import azure_compute, gce


@pytest.fixture(params=["azure", "gce"])
def cloud(request: pytest.FixtureRequest) -> Any:
    return azure_compute.FakeAzureCompute(page_size=2) if request.param == "azure" else gce.FakeGce()


def spec_for(fake: Any, name: str, **tags: str) -> InstanceSpec:
    if isinstance(fake, gce.FakeGce):
        return InstanceSpec(name, fake.machine_type, fake.image, tags)
    return InstanceSpec(name, fake.vm_size, fake.image, tags)


def adapter_for(fake: Any) -> Any:
    return fake.adapter(page_size=2) if isinstance(fake, gce.FakeGce) else fake.adapter()


def refused(fake: Any) -> BaseException:
    if isinstance(fake, gce.FakeGce):
        return requests.ConnectionError("Connection refused")
    return ServiceRequestError("Connection refused")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "expected", "temporary"),
    [(403, PermissionDenied, True), (429, Throttled, True), (500, Unavailable, True), (503, Unavailable, True),
     (400, InvalidRequest, False), (404, NotFound, False)],
)
def test_http_errors_map_to_failover_errors(cloud: Any, status: int, expected: type, temporary: bool) -> None:
    compute = adapter_for(cloud)
    cloud.faults.add(status, headers={"Retry-After": "7"} if status == 429 else None)
    with pytest.raises(expected) as caught:
        compute.describe_instance("web-1")
    assert caught.value.temporary is temporary
    assert caught.value.operation == "describe_instance"
    assert "web-1" in str(caught.value)
    if status == 429:
        assert caught.value.retry_after == pytest.approx(7, abs=1)
    assert len(cloud.requests) == 1  # the SDK made one attempt: retrying is the failover layer's job


def test_a_refused_connection_is_unavailable(cloud: Any) -> None:
    compute = adapter_for(cloud)
    cloud.faults.add(error=refused(cloud))
    with pytest.raises(Unavailable) as caught:
        list(compute.list_instances())
    assert caught.value.temporary


def test_listing_fails_at_the_call_not_midway(cloud: Any) -> None:
    compute = adapter_for(cloud)
    cloud.faults.add(503)
    with pytest.raises(Unavailable):
        compute.list_instances()  # not even iterated


def test_unknown_size_and_image_name_the_value(cloud: Any) -> None:
    compute = adapter_for(cloud)
    good = spec_for(cloud, "web-1")
    with pytest.raises(InvalidRequest, match="no-such-size"):
        compute.create_instance(InstanceSpec("web-1", "no-such-size", good.image))
    bad_image = "acme:nothing:here:1" if isinstance(cloud, azure_compute.FakeAzureCompute) else "projects/x/no-image"
    with pytest.raises(InvalidRequest, match="image") as caught:
        compute.create_instance(InstanceSpec("web-1", good.instance_type, bad_image))
    assert not caught.value.temporary
    assert list(compute.list_instances()) == []


def test_credentials_never_show(cloud: Any) -> None:
    compute = adapter_for(cloud)
    secret = gce.SECRET_TOKEN if isinstance(cloud, gce.FakeGce) else azure_compute.SECRET_TOKEN
    for status in (401, 403, 404, 500):
        cloud.faults.add(status)
        with pytest.raises(ProviderError) as caught:
            compute.describe_instance("web-1")
        assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in repr(compute)
    # ...and yet it was sent: the SDK's auth layer ran over the fake transport.
    headers = {k.lower(): v for k, v in cloud.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {secret}"


# ---------------------------------------------------------------- paging and state


def test_listing_follows_every_page(cloud: Any) -> None:
    compute = adapter_for(cloud)
    for n in range(5):
        compute.create_instance(spec_for(cloud, f"vm-{n}", app="web" if n % 2 else "db"))
    cloud.requests.clear()
    assert sorted(i.name for i in compute.list_instances()) == [f"vm-{n}" for n in range(5)]
    assert len([r for r in cloud.requests if r.method == "GET"]) == 3  # 2 + 2 + 1
    assert sorted(i.name for i in compute.list_instances({"app": "web"})) == ["vm-1", "vm-3"]


def test_instance_fields_are_normalised(cloud: Any) -> None:
    compute = adapter_for(cloud)
    made = compute.create_instance(spec_for(cloud, "web-1", app="web"))
    assert (made.id, made.name, dict(made.tags)) == ("web-1", "web-1", {"app": "web"})
    assert made.instance_type == spec_for(cloud, "x").instance_type  # a bare name, not a URL
    assert made.image == cloud.image
    assert made.created == pytest.approx(1760971680.0)  # 2025-10-20T14:48Z in both fakes
    if isinstance(cloud, gce.FakeGce):
        assert made.region == cloud.zone and made.addresses[0].startswith("10.132.")
    else:
        assert made.region == "westeurope" and made.addresses == ()


def test_gce_state_names_map_to_the_model() -> None:
    fake = gce.FakeGce()
    compute = fake.adapter()
    compute.create_instance(spec_for(fake, "web-1"))
    for status, state in [("PROVISIONING", InstanceState.PENDING), ("STAGING", InstanceState.PENDING),
                          ("STOPPING", InstanceState.STOPPING), ("TERMINATED", InstanceState.STOPPED),
                          ("SUSPENDED", InstanceState.STOPPED), ("RUNNING", InstanceState.RUNNING)]:
        fake.instances["web-1"]["status"] = status
        assert compute.describe_instance("web-1").state is state, status


def test_azure_power_states_map_to_the_model() -> None:
    fake = azure_compute.FakeAzureCompute()
    compute = fake.adapter()
    compute.create_instance(spec_for(fake, "web-1"))
    for power, state in [("starting", InstanceState.PENDING), ("stopping", InstanceState.STOPPING),
                         ("deallocating", InstanceState.STOPPING), ("stopped", InstanceState.STOPPED),
                         ("deallocated", InstanceState.STOPPED), ("running", InstanceState.RUNNING)]:
        fake.vms["web-1"]["_power"] = power
        assert compute.describe_instance("web-1").state is state, power
    fake.vms["web-1"]["properties"]["provisioningState"] = "Deleting"
    assert compute.describe_instance("web-1").state is InstanceState.TERMINATED


def test_azure_stop_deallocates() -> None:
    fake = azure_compute.FakeAzureCompute()
    compute = fake.adapter()
    compute.create_instance(spec_for(fake, "web-1"))
    assert compute.stop_instance("web-1").state is InstanceState.STOPPED
    assert any(r.path.endswith("/web-1/deallocate") for r in fake.requests)


def test_gce_refuses_labels_it_cannot_store_before_sending() -> None:
    fake = gce.FakeGce()
    compute = fake.adapter()
    with pytest.raises(InvalidInput, match="label"):
        compute.create_instance(InstanceSpec("web-1", fake.machine_type, fake.image, {"App:Tier": "web"}))
    with pytest.raises(InvalidInput, match="name"):
        compute.create_instance(InstanceSpec("Web_1", fake.machine_type, fake.image))
    assert fake.requests == []


def test_gce_insert_of_an_existing_name_is_already_exists() -> None:
    fake = gce.FakeGce()
    compute = fake.adapter()
    compute.create_instance(spec_for(fake, "web-1"))
    with pytest.raises(AlreadyExists):
        compute.create_instance(spec_for(fake, "web-1"))


def test_azure_needs_a_subnet_and_a_valid_image_urn() -> None:
    fake = azure_compute.FakeAzureCompute()
    with pytest.raises(ConfigError, match="subnet_id"):
        fake.adapter(subnet_id=None).create_instance(spec_for(fake, "web-1"))
    with pytest.raises(InvalidInput, match="publisher:offer:sku:version"):
        fake.adapter().create_instance(InstanceSpec("web-1", fake.vm_size, "ubuntu"))
    assert fake.requests == []


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError):
        gce.FakeGce().adapter(page_size=0)
    with pytest.raises(ConfigError):
        azure_compute.AzureCompute("", subscription_id="s", resource_group="rg", credential=object())
