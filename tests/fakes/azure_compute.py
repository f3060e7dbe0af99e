"""A fake Azure Compute (Microsoft.Compute/virtualMachines) behind an azure-core transport.

`tests.fakes.arm.ArmTransport` hands each request to `FakeAzureCompute.handle`; the real
`ComputeManagementClient` builds every request (bearer token included) and parses every
response.  Shapes follow the REST reference ("Virtual Machines - List / Get / Create Or Update / Start / Deallocate /
Delete"): a VM is ``{"id", "name", "type", "location", "tags", "properties":
{"vmId", "hardwareProfile": {"vmSize"}, "storageProfile": {"imageReference"},
"provisioningState", "timeCreated", "instanceView"?}}``; ``$expand=instanceView`` adds
``{"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/running"}]}``;
lists are ``{"value": [...], "nextLink": url}`` (``page_size`` VMs per page); long-running
operations answer 200 with the final result and no polling header, so they are complete
at once; a delete of a missing VM is 204; errors are ``{"error": {"code", "message"}}``:
404 ResourceNotFound, 404 PlatformImageNotFound, 400 InvalidParameter (unknown size).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from azure.core.credentials import AccessToken

from failover.providers.azure.compute import AzureCompute
from tests.fakes import Faults, Seen, arm

SECRET_TOKEN = "eyJ0eXAi.fake-secret-bearer-token"  # must never appear in errors or reprs
SUBNET = "/subscriptions/sub-0001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/app"

Reply = arm.Reply


def _respond(backend: FakeAzureCompute) -> Callable[[Any], Reply]:
    """The transport's handler: a queued fault, or the backend's answer; every request recorded."""

    def respond(request: Any) -> Reply:
        fault = backend.faults.take()
        if fault is not None and fault.error is not None:
            raise fault.error
        parts = urlsplit(request.url)
        seen = Seen(
            request.method,
            unquote(parts.path),
            dict(parse_qsl(parts.query)),
            arm.json_body(request),
            dict(request.headers),
        )
        backend.requests.append(seen)
        if fault is not None:
            return _error(fault.status, "InjectedFault", fault.message, fault.headers)
        return backend.handle(seen)

    return respond


class StaticToken:
    """A TokenCredential with a fixed bearer token (azure-core's ``get_token`` protocol)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(SECRET_TOKEN, int(time.time()) + 3600)


_error = arm.arm_error


class FakeAzureCompute:
    """VMs of one resource group, in memory; ``faults`` makes the next requests fail."""

    vm_size = "Standard_B1s"
    image = "Canonical:ubuntu-24_04-lts:server:latest"

    def __init__(
        self,
        subscription: str = "sub-0001",
        resource_group: str = "rg-app",
        location: str = "westeurope",
        page_size: int = 50,
    ) -> None:
        self.subscription, self.resource_group, self.location = subscription, resource_group, location
        self.page_size = page_size
        self.sizes = {"Standard_B1s", "Standard_B2s"}
        self.images = {self.image}
        self.vms: dict[str, dict[str, Any]] = {}  # by lower-case name: ARM names are case-insensitive
        self.requests: list[Seen] = []
        self.faults = Faults()
        self._lock = threading.Lock()

    def adapter(self, **options: Any) -> AzureCompute:
        options.setdefault("subnet_id", SUBNET)
        return AzureCompute(
            self.location,
            subscription_id=self.subscription,
            resource_group=self.resource_group,
            credential=StaticToken(),
            transport=arm.ArmTransport(_respond(self)),
            **options,
        )

    def handle(self, seen: Seen) -> Reply:
        prefix = (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            "/providers/Microsoft.Compute/virtualMachines"
        )
        if not seen.path.lower().startswith(prefix.lower()):
            return _error(404, "ResourceGroupNotFound", f"Resource group '{self.resource_group}' could not be found.")
        if "api-version" not in seen.query:
            return _error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        rest = [p for p in seen.path[len(prefix) :].split("/") if p]
        expand = seen.query.get("$expand", "").lower() == "instanceview"
        with self._lock:
            if not rest and seen.method == "GET":
                return self._list(seen.query, expand)
            name = rest[0]
            vm = self.vms.get(name.lower())
            if len(rest) == 1 and seen.method == "PUT":
                return self._put(name, seen.body or {})
            if len(rest) == 1 and seen.method == "DELETE":
                return (200 if self.vms.pop(name.lower(), None) else 204), {}, None
            if vm is None:
                return _error(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.Compute/virtualMachines/{name}' "
                    f"under resource group '{self.resource_group}' was not found.",
                )
            if len(rest) == 1 and seen.method == "GET":
                return 200, {}, self._view(vm, expand)
            if len(rest) == 2 and seen.method == "POST" and rest[1] in ("start", "deallocate", "powerOff"):
                vm["_power"] = {"start": "running", "deallocate": "deallocated", "powerOff": "stopped"}[rest[1]]
                return 200, {}, None
        return _error(400, "InvalidRequest", f"unsupported {seen.method} {seen.path}")

    def _list(self, query: dict[str, str], expand: bool) -> Reply:
        start = int(query.get("skipToken") or 0)
        names = sorted(self.vms)
        body: dict[str, Any] = {
            "value": [self._view(self.vms[n], expand) for n in names[start : start + self.page_size]]
        }
        if start + self.page_size < len(names):
            query = {**query, "skipToken": str(start + self.page_size)}
            body["nextLink"] = (
                f"https://management.azure.com/subscriptions/{self.subscription}/resourceGroups/"
                f"{self.resource_group}/providers/Microsoft.Compute/virtualMachines?{urlencode(query)}"
            )
        return 200, {}, body

    def _put(self, name: str, body: dict[str, Any]) -> Reply:
        props = body.get("properties") or {}
        size = (props.get("hardwareProfile") or {}).get("vmSize")
        if size not in self.sizes:
            return _error(
                400,
                "InvalidParameter",
                f"The value {size} provided for the VM size is not valid. "
                "The valid sizes in the current region are: " + ", ".join(sorted(self.sizes)),
            )
        ref = (props.get("storageProfile") or {}).get("imageReference") or {}
        urn = ref.get("id") or ":".join(str(ref.get(k)) for k in ("publisher", "offer", "sku", "version"))
        if urn not in self.images:
            return _error(404, "PlatformImageNotFound", f"The platform image '{urn}' is not available.")
        nics = (props.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
        if not nics:
            return _error(400, "InvalidParameter", "Required parameter 'networkProfile' is missing (null).")
        existing = self.vms.get(name.lower())
        vm = {
            "id": f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{name}",
            "name": name,
            "type": "Microsoft.Compute/virtualMachines",
            "location": body.get("location", self.location),
            "tags": dict(body.get("tags") or {}),
            "properties": {
                "vmId": existing["properties"]["vmId"] if existing else str(uuid.uuid4()),
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {"imageReference": ref, "osDisk": props["storageProfile"].get("osDisk", {})},
                "osProfile": props.get("osProfile", {}),
                "networkProfile": props.get("networkProfile", {}),
                "provisioningState": "Succeeded",  # real ARM: Creating, then Succeeded
                "timeCreated": "2025-10-20T14:48:00.0000000+00:00",
            },
            "_power": existing["_power"] if existing else "running",
        }
        self.vms[name.lower()] = vm
        return (200 if existing else 201), {}, self._view(vm, False)

    def _view(self, vm: dict[str, Any], expand: bool) -> dict[str, Any]:
        out = {k: v for k, v in vm.items() if not k.startswith("_")}
        out["properties"] = dict(vm["properties"])
        if expand:
            out["properties"]["instanceView"] = {
                "statuses": [
                    {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
                    {"code": f"PowerState/{vm['_power']}", "level": "Info", "displayStatus": f"VM {vm['_power']}"},
                ]
            }
        return out
