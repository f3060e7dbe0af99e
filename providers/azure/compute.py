"""Azure virtual machines (azure-mgmt-compute) as a `Compute` provider.

Mapping to the `Instance` model:

* ``id`` and ``name`` are the VM name, unique within the resource group, which is how
  every ARM call addresses it.
* ``image`` is ``publisher:offer:sku:version`` (the Azure CLI's URN) or an image
  resource id starting with ``/subscriptions/``.
* The state comes from the instance view: ``PowerState/running`` is RUNNING,
  ``stopped`` and ``deallocated`` are STOPPED, ``starting`` (and a VM still being
  created) PENDING, ``stopping``/``deallocating`` STOPPING; a VM being deleted is
  TERMINATED, and a deleted one is gone (`NotFound`), so `terminate_instance` is
  idempotent.
* `stop_instance` *deallocates*: a VM that is only powered off is still billed.
* ``addresses`` is empty: Azure keeps IP addresses on the network interface
  resources (Microsoft.Network), not on the VM.

Long-running operations are started and not waited for (a VM create takes minutes);
ARM validates the request synchronously, so a bad size, image or permission fails at
the call.  The client makes at most ``retry_total`` (default 0) retries with short
timeouts, for the same reason as the blob client (see ``_client``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.compute.models import VirtualMachine
except ImportError as exc:
    raise missing_sdk(__name__, "azure-compute", exc) from exc

from failover.capabilities import Instance, InstanceSpec, InstanceState
from failover.errors import ConfigError, InvalidInput, NotFound, PreconditionFailed
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_instance_id,
    check_timeout,
    copy_tags,
    timestamp,
)
from failover.providers.azure._client import DEFAULT_RETRY_TOTAL, default_credential, map_errors

INSTANCE_VIEW = "instanceView"
_POWER: Mapping[str, InstanceState] = {
    "PowerState/starting": InstanceState.PENDING,
    "PowerState/running": InstanceState.RUNNING,
    "PowerState/stopping": InstanceState.STOPPING,
    "PowerState/deallocating": InstanceState.STOPPING,
    "PowerState/stopped": InstanceState.STOPPED,
    "PowerState/deallocated": InstanceState.STOPPED,
}
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_BAD_TAG_CHARS = re.compile(r"[<>%&\\?/]")


def check_tags(tags: Mapping[str, str] | None, what: str = "tags") -> dict[str, str]:
    """A copy of ``tags``; `InvalidInput` unless Azure accepts them (names without <>%&\\?/)."""
    copied = copy_tags(tags, what)
    for key, value in copied.items():
        if not isinstance(key, str) or not key or len(key) > 512 or _BAD_TAG_CHARS.search(key):
            raise InvalidInput(f"Azure tag name {key!r} invalid: 1-512 characters, none of <>%&\\?/")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidInput(f"Azure tag value for {key!r} must be a str of at most 256 characters")
    return copied


def image_reference(image: str) -> dict[str, str]:
    if image.startswith("/subscriptions/"):
        return {"id": image}
    parts = image.split(":")
    if len(parts) != 4 or not all(parts):
        raise InvalidInput(f"image {image!r} invalid: use 'publisher:offer:sku:version' or an image resource id")
    return dict(zip(("publisher", "offer", "sku", "version"), parts, strict=True))


class AzureCompute:
    """VMs of one resource group, created in ``location``.

    ``credential`` is any azure-core TokenCredential (default: azure-identity's
    DefaultAzureCredential); ``transport`` replaces the HTTP transport (tests); ``client``
    replaces the whole `ComputeManagementClient`.  To create VMs, ``subnet_id`` (the NIC is
    created with the VM and deleted with it) and usually ``ssh_public_key`` are needed.
    """

    def __init__(
        self,
        location: str,
        *,
        subscription_id: str,
        resource_group: str,
        credential: Any = None,
        transport: Any = None,
        client: ComputeManagementClient | None = None,
        subnet_id: str | None = None,
        admin_username: str = "azureuser",
        ssh_public_key: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_total: int = DEFAULT_RETRY_TOTAL,
    ) -> None:
        for what, value in (
            ("location", location),
            ("subscription_id", subscription_id),
            ("resource_group", resource_group),
        ):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{what} must be a non-empty str, not {value!r}")
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        self.location = location
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.subnet_id = subnet_id
        self.admin_username = admin_username
        self._ssh_public_key = ssh_public_key
        if client is None:
            options: dict[str, Any] = {
                "connection_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "retry_total": retry_total,
            }
            if transport is not None:
                options["transport"] = transport
            client = ComputeManagementClient(credential or default_credential(), subscription_id, **options)
        self._vms = client.virtual_machines

    def __repr__(self) -> str:
        return (
            f"AzureCompute(location={self.location!r}, subscription_id={self.subscription_id!r}, "
            f"resource_group={self.resource_group!r})"
        )

    def _where(self, name: str | None = None) -> str:
        place = f"resource group {self.resource_group}"
        return f"VM {name} in {place}" if name else f"VMs in {place}"

    # ------------------------------------------------------------ reads

    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        """VMs carrying every given tag (filtered here; ARM's $filter does not take tags)."""
        wanted = check_tags(tags, "tag filter")
        with map_errors("list_instances", self._where()):
            # by_page() sends the first request now, so an unreachable region fails at the
            # call, where the failover layer can still move it; later pages follow nextLink.
            pages = self._vms.list(self.resource_group, expand=INSTANCE_VIEW).by_page()
            first = next(pages, None)
        return self._iterate(first, pages, wanted)

    def _iterate(self, first: Any, pages: Iterator[Any], wanted: dict[str, str]) -> Iterator[Instance]:
        page = first
        while page is not None:
            with map_errors("list_instances", self._where()):
                items = list(page)
            for vm in items:
                raw = vm.as_dict()
                found = raw.get("tags") or {}
                if all(found.get(k) == v for k, v in wanted.items()):
                    yield self._instance(raw)
            with map_errors("list_instances", self._where()):
                page = next(pages, None)

    def describe_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        with map_errors("describe_instance", self._where(instance_id)):
            vm = self._vms.get(self.resource_group, instance_id, expand=INSTANCE_VIEW)
        return self._instance(vm.as_dict())

    def probe(self) -> None:
        """Cheap health check: the first page of the resource group's VMs."""
        with map_errors("probe", self._where()):
            next(self._vms.list(self.resource_group).by_page(), None)

    # ------------------------------------------------------------ writes

    def start_instance(self, instance_id: str) -> Instance:
        self._refuse_deleting(instance_id, "start_instance")
        with map_errors("start_instance", self._where(instance_id)):
            self._vms.begin_start(self.resource_group, instance_id)
        return self.describe_instance(instance_id)

    def stop_instance(self, instance_id: str) -> Instance:
        self._refuse_deleting(instance_id, "stop_instance")
        with map_errors("stop_instance", self._where(instance_id)):
            self._vms.begin_deallocate(self.resource_group, instance_id)
        return self.describe_instance(instance_id)

    def _refuse_deleting(self, instance_id: str, operation: str) -> None:
        # ARM would answer 409 OperationNotAllowed; checking first gives the same error
        # as every other provider, with a message that says why.
        if self.describe_instance(instance_id).state is InstanceState.TERMINATED:
            raise PreconditionFailed(f"{operation} {self._where(instance_id)}: being deleted", operation=operation)

    def terminate_instance(self, instance_id: str) -> None:
        """Delete the VM (its OS disk and NIC too); deleting one that is gone succeeds."""
        check_instance_id(instance_id)
        try:
            with map_errors("terminate_instance", self._where(instance_id)):
                self._vms.begin_delete(self.resource_group, instance_id)
        except NotFound:
            return

    def create_instance(self, spec: InstanceSpec) -> Instance:
        body = self._create_body(spec)
        what = f"{spec.name} (size {spec.instance_type!r}, image {spec.image!r})"
        # ARM's 404 for an image that does not exist is InvalidRequest here (providers/_errors.py).
        with map_errors("create_instance", self._where(what)):
            self._vms.begin_create_or_update(self.resource_group, spec.name, VirtualMachine(body))
        return self.describe_instance(spec.name)

    def _create_body(self, spec: InstanceSpec) -> dict[str, Any]:
        if not isinstance(spec, InstanceSpec):
            raise InvalidInput(f"expected an InstanceSpec, not {type(spec).__name__}")
        if not isinstance(spec.name, str) or not _NAME.match(spec.name):
            raise InvalidInput(f"Azure VM name {spec.name!r} invalid: 1-64 letters, digits, '_', '.', '-'")
        if not isinstance(spec.instance_type, str) or not spec.instance_type:
            raise InvalidInput(f"instance_type must be a non-empty str, not {spec.instance_type!r}")
        if not isinstance(spec.image, str):
            raise InvalidInput(f"image must be a str, not {spec.image!r}")
        image = image_reference(spec.image)
        tags = check_tags(spec.tags)
        if not self.subnet_id:
            raise ConfigError("AzureCompute needs subnet_id to create VMs (their NIC goes into that subnet)")
        os_profile: dict[str, Any] = {"computerName": spec.name, "adminUsername": self.admin_username}
        if self._ssh_public_key:
            os_profile["linuxConfiguration"] = {
                "disablePasswordAuthentication": True,
                "ssh": {
                    "publicKeys": [
                        {"path": f"/home/{self.admin_username}/.ssh/authorized_keys", "keyData": self._ssh_public_key}
                    ]
                },
            }
        nic = {
            "name": f"{spec.name}-nic",
            "properties": {
                "primary": True,
                "deleteOption": "Delete",  # terminate leaves nothing behind
                "ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": self.subnet_id}}}],
            },
        }
        return {
            "location": self.location,
            "tags": tags,
            "properties": {
                "hardwareProfile": {"vmSize": spec.instance_type},
                "storageProfile": {
                    "imageReference": image,
                    "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"},
                },
                "osProfile": os_profile,
                # With this API version ARM creates the NIC itself: no separate network call.
                "networkProfile": {"networkApiVersion": "2020-11-01", "networkInterfaceConfigurations": [nic]},
            },
        }

    # ------------------------------------------------------------ mapping

    def _instance(self, raw: Mapping[str, Any]) -> Instance:
        props = raw.get("properties") or {}
        reference = (props.get("storageProfile") or {}).get("imageReference") or {}
        image = reference.get("id") or ":".join(
            str(reference.get(k, "")) for k in ("publisher", "offer", "sku", "version")
        )
        return Instance(
            id=str(raw.get("name", "")),
            name=str(raw.get("name", "")),
            state=_state(props),
            region=str(raw.get("location", self.location)),
            instance_type=str((props.get("hardwareProfile") or {}).get("vmSize", "")),
            image=image if reference else "",
            tags=dict(raw.get("tags") or {}),
            addresses=(),
            created=timestamp(props.get("timeCreated")),
        )


def _state(props: Mapping[str, Any]) -> InstanceState:
    provisioning = str(props.get("provisioningState", ""))
    if provisioning == "Deleting":
        return InstanceState.TERMINATED
    statuses = (props.get("instanceView") or {}).get("statuses") or []
    for status in statuses:
        state = _POWER.get(str(status.get("code", "")))
        if state is not None:
            return state
    return InstanceState.PENDING  # no power state yet: still being created


__all__ = ["AzureCompute", "check_tags", "image_reference"]
