"""Google Compute Engine (google-cloud-compute, REST) as a `Compute` provider.

Mapping to the `Instance` model:

* ``id`` and ``name`` are the instance name: every GCE call addresses an instance by
  name within its zone (the numeric id is for billing exports).
* ``tags`` are GCE *labels*, so their keys and values must be lowercase letters,
  digits, ``_`` and ``-`` (keys start with a letter, both at most 63 characters);
  other tags are refused with `InvalidInput` before any request.
* GCE's own status ``TERMINATED`` means *stopped* (the disk remains); a deleted
  instance simply disappears, so `terminate_instance` is idempotent on NotFound.
* GCE does not report the boot image on an instance, so the adapter writes it into
  the instance metadata (``failover-image``) at creation and reads it back.

Calls pass ``retry=None`` and an explicit ``timeout``: api-core would otherwise retry
for up to minutes, and retrying elsewhere is the failover layer's job.  Long-running
operations (insert, start, stop, delete) are not waited for: the instance is returned
as GCE reports it right after the request (PROVISIONING → PENDING), and a failure the
operation already carries is raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import google.api_core.exceptions as gexc
    from google.auth import exceptions as auth_exc
    from google.cloud import compute_v1
except ImportError as exc:
    raise missing_sdk(__name__, "gce", exc) from exc

from failover.capabilities import Instance, InstanceSpec, InstanceState
from failover.errors import ConfigError, InvalidInput, NotFound
from failover.providers._common import check_instance_id, check_timeout, copy_tags, timestamp
from failover.providers.gcp._client import map_errors, translate

IMAGE_METADATA_KEY = "failover-image"
DEFAULT_TIMEOUT = 10.0
DEFAULT_PAGE_SIZE = 500

_STATES: Mapping[str, InstanceState] = {
    "PROVISIONING": InstanceState.PENDING,
    "STAGING": InstanceState.PENDING,
    "REPAIRING": InstanceState.PENDING,
    "RUNNING": InstanceState.RUNNING,
    "STOPPING": InstanceState.STOPPING,
    "SUSPENDING": InstanceState.STOPPING,
    "SUSPENDED": InstanceState.STOPPED,
    "STOPPED": InstanceState.STOPPED,
    "TERMINATED": InstanceState.STOPPED,  # GCE's word for a stopped VM
}
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def check_labels(tags: Mapping[str, str] | None, what: str = "tags") -> dict[str, str]:
    """A copy of ``tags``, refused with `InvalidInput` unless GCE accepts them as labels."""
    copied = copy_tags(tags, what)
    for key, value in copied.items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key) or not isinstance(value, str):
            raise InvalidInput(f"GCE label key {key!r} invalid: lowercase letters, digits, '_', '-', letter first")
        if not _LABEL_VALUE.match(value):
            raise InvalidInput(f"GCE label value {value!r} (key {key!r}) invalid: lowercase letters, digits, '_', '-'")
    return copied


class GceCompute:
    """GCE instances in one zone of one project.

    ``client`` replaces the `compute_v1.InstancesClient` (tests pass one whose REST
    transport talks to a fake); otherwise one is built with ``credentials`` or the
    application default credentials.  ``network``/``subnetwork`` go to every insert.
    """

    def __init__(
        self,
        zone: str,
        *,
        project: str,
        client: compute_v1.InstancesClient | None = None,
        credentials: Any = None,
        network: str = "global/networks/default",
        subnetwork: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        for what, value in (("zone", zone), ("project", project)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{what} must be a non-empty str, not {value!r}")
        check_timeout("timeout", timeout)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 500:
            raise ConfigError(f"page_size must be an int in 1..500, not {page_size!r}")
        self.zone = zone
        self.project = project
        self.network = network
        self.subnetwork = subnetwork
        self._timeout = timeout
        self._page_size = page_size
        if client is None:
            try:
                client = compute_v1.InstancesClient(credentials=credentials)
            except auth_exc.DefaultCredentialsError as exc:
                raise ConfigError(
                    "no Google application default credentials: set GOOGLE_APPLICATION_CREDENTIALS, "
                    "run 'gcloud auth application-default login', or pass client= or credentials="
                ) from exc
        self._client = client

    def __repr__(self) -> str:
        return f"GceCompute(project={self.project!r}, zone={self.zone!r})"

    def _where(self, name: str | None = None) -> str:
        place = f"projects/{self.project}/zones/{self.zone}"
        return f"instance {name} in {place}" if name else f"instances in {place}"

    def _call(self) -> dict[str, Any]:
        return {"project": self.project, "zone": self.zone, "retry": None, "timeout": self._timeout}

    # ------------------------------------------------------------ reads

    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        """Instances with every given label; filtered here, so any tag filter works."""
        wanted = check_labels(tags, "tag filter")
        request = compute_v1.ListInstancesRequest(project=self.project, zone=self.zone, max_results=self._page_size)
        with map_errors("list_instances", self._where()):
            # The pager fetches the first page now (an unreachable zone fails at the call)
            # and the next ones lazily, following nextPageToken.
            pager = self._client.list(request=request, retry=None, timeout=self._timeout)
        return self._iterate(pager, wanted)

    def _iterate(self, pager: Any, wanted: dict[str, str]) -> Iterator[Instance]:
        items = iter(pager)
        while True:
            with map_errors("list_instances", self._where()):
                raw = next(items, None)
            if raw is None:
                return
            labels = dict(raw.labels)
            if all(labels.get(k) == v for k, v in wanted.items()):
                yield self._instance(raw)

    def describe_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        with map_errors("describe_instance", self._where(instance_id)):
            raw = self._client.get(instance=instance_id, **self._call())
        return self._instance(raw)

    def probe(self) -> None:
        """Cheap health check: list one instance of the zone."""
        request = compute_v1.ListInstancesRequest(project=self.project, zone=self.zone, max_results=1)
        with map_errors("probe", self._where()):
            self._client.list(request=request, retry=None, timeout=self._timeout)

    # ------------------------------------------------------------ writes

    def start_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        self._operation("start_instance", instance_id, self._client.start_unary, instance=instance_id)
        return self.describe_instance(instance_id)

    def stop_instance(self, instance_id: str) -> Instance:
        check_instance_id(instance_id)
        self._operation("stop_instance", instance_id, self._client.stop_unary, instance=instance_id)
        return self.describe_instance(instance_id)

    def terminate_instance(self, instance_id: str) -> None:
        """Delete the instance; deleting one that is already gone succeeds."""
        check_instance_id(instance_id)
        try:
            self._operation("terminate_instance", instance_id, self._client.delete_unary, instance=instance_id)
        except NotFound:
            return

    def create_instance(self, spec: InstanceSpec) -> Instance:
        if not isinstance(spec, InstanceSpec):
            raise InvalidInput(f"expected an InstanceSpec, not {type(spec).__name__}")
        if not isinstance(spec.name, str) or not _NAME.match(spec.name):
            raise InvalidInput(
                f"GCE instance name {spec.name!r} invalid: 1-63 lowercase letters, digits and '-', letter first"
            )
        for field, value in (("instance_type", spec.instance_type), ("image", spec.image)):
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"{field} must be a non-empty str, not {value!r}")
        labels = check_labels(spec.tags)
        interface = compute_v1.NetworkInterface(network=self.network)
        if self.subnetwork:
            interface.subnetwork = self.subnetwork
        resource = compute_v1.Instance(
            name=spec.name,
            machine_type=f"zones/{self.zone}/machineTypes/{spec.instance_type}",
            labels=labels,
            metadata=compute_v1.Metadata(items=[compute_v1.Items(key=IMAGE_METADATA_KEY, value=spec.image)]),
            disks=[
                compute_v1.AttachedDisk(
                    boot=True,
                    auto_delete=True,
                    initialize_params=compute_v1.AttachedDiskInitializeParams(source_image=spec.image),
                )
            ],
            network_interfaces=[interface],
        )
        what = f"{spec.name} (type {spec.instance_type!r}, image {spec.image!r})"
        # GCE's 404 for an unknown image or machine type is InvalidRequest, its 409 for a
        # taken name AlreadyExists (providers/_errors.py).
        self._operation("create_instance", what, self._client.insert_unary, instance_resource=resource)
        return self.describe_instance(spec.name)

    def _operation(self, operation: str, name: str, send: Any, **request: Any) -> None:
        """Send one mutating request; raise what the returned Operation already reports."""
        with map_errors(operation, self._where(name)):
            op = send(**request, **self._call())
        errors = list(op.error.errors) if op.error else []
        if errors:
            status = int(op.http_error_status_code or 400)
            detail = "; ".join(f"{e.code}: {e.message}" for e in errors)
            cause = gexc.from_http_status(status, op.http_error_message or detail)  # type: ignore[no-untyped-call]
            mapped = translate(cause, operation, f"{self._where(name)}: {detail}")
            assert mapped is not None  # a GoogleAPICallError always maps
            raise mapped

    # ------------------------------------------------------------ mapping

    def _instance(self, raw: compute_v1.Instance) -> Instance:
        addresses: list[str] = []
        for nic in raw.network_interfaces:
            addresses.extend(a for a in (nic.network_i_p, *(c.nat_i_p for c in nic.access_configs)) if a)
        image = next((i.value for i in raw.metadata.items if i.key == IMAGE_METADATA_KEY), "")
        return Instance(
            id=raw.name,
            name=raw.name,
            state=_STATES.get(raw.status, InstanceState.PENDING),
            region=self.zone,
            instance_type=raw.machine_type.rsplit("/", 1)[-1],
            image=image,
            tags=dict(raw.labels),
            addresses=tuple(addresses),
            created=timestamp(raw.creation_timestamp),
        )


__all__ = ["IMAGE_METADATA_KEY", "GceCompute", "check_labels"]
