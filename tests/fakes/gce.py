"""A fake Compute Engine (REST API v1, ``instances`` in one zone) behind a requests adapter.

The seam: google-cloud-compute's `InstancesRestTransport` sends every call through a
google-auth `AuthorizedSession`, a ``requests.Session``; the fake is a
``requests.adapters.BaseAdapter`` mounted on that session for ``https://``, so the real
SDK builds each request (auth header included) and parses each response.

Shapes follow the v1 reference ("Method: instances.list / get / insert / start / stop /
delete"): an instance is ``{"id", "name", "status", "machineType" (a URL), "labels",
"metadata": {"items": [...]}, "networkInterfaces": [{"networkIP", "accessConfigs":
[{"natIP"}]}], "creationTimestamp"}``; a list is ``{"items": [...], "nextPageToken"}``
honouring ``maxResults``; mutations answer an ``Operation`` already ``DONE`` (operations
complete at once, so tests never wait).  Errors are ``{"error": {"code", "message",
"errors": [{"reason", "message", "domain"}]}}``: 404 notFound (also an unknown image or
machine type on insert, as GCE answers), 409 alreadyExists, 400 invalid.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
from google.cloud import compute_v1
from google.cloud.compute_v1.services.instances.transports.rest import InstancesRestTransport
from google.oauth2.credentials import Credentials
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from failover.providers.gcp.compute import GceCompute
from tests.fakes import Faults, Seen

PROJECT = "demo-project"
ZONE = "europe-west1-b"
SECRET_TOKEN = "ya29.fake-secret-token"  # must never appear in errors or reprs
_REASONS = {
    400: "invalid",
    403: "forbidden",
    404: "notFound",
    409: "alreadyExists",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}

Reply = tuple[int, dict[str, str], Any]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": _REASONS.get(status, "unknown")}],
        }
    }
    return status, dict(headers or {}), body


class FakeAdapter(BaseAdapter):
    """A requests transport adapter that answers from a `FakeGce` instead of the network."""

    def __init__(self, backend: FakeGce) -> None:
        super().__init__()
        self.backend = backend

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        fault = self.backend.faults.take()
        if fault is not None and fault.error is not None:
            raise fault.error
        body = json.loads(request.body) if request.body else None
        seen = Seen(
            str(request.method),
            urlsplit(str(request.url)).path,
            dict(parse_qsl(urlsplit(str(request.url)).query)),
            body,
            dict(request.headers),
            kwargs.get("timeout"),
        )
        self.backend.requests.append(seen)
        if fault is not None:
            status, headers, payload = _error(fault.status, fault.message, fault.headers)
        else:
            status, headers, payload = self.backend.handle(seen)
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json; charset=UTF-8", **headers})
        response._content = json.dumps(payload).encode() if payload is not None else b""
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


class FakeGce:
    """Instances of one zone of one project, in memory."""

    machine_type = "e2-small"
    image = "projects/debian-cloud/global/images/family/debian-12"

    def __init__(self, project: str = PROJECT, zone: str = ZONE) -> None:
        self.project = project
        self.zone = zone
        self.machine_types = {"e2-small", "e2-medium"}
        self.images = {self.image}
        self.instances: dict[str, dict[str, Any]] = {}
        self.faults = Faults()
        self.requests: list[Seen] = []
        self._ids = itertools.count(4_000_000_000_000_000_001)
        self._ops = itertools.count(1)
        self._lock = threading.Lock()

    def client(self) -> compute_v1.InstancesClient:
        """The real SDK client, its HTTP session answered by this fake."""
        transport = InstancesRestTransport(credentials=Credentials(token=SECRET_TOKEN))
        # The transport's AuthorizedSession is a requests.Session: mounting an adapter is
        # requests' own way to replace the network under it.
        transport._session.mount("https://", FakeAdapter(self))
        return compute_v1.InstancesClient(transport=transport)

    def adapter(self, **options: Any) -> GceCompute:
        return GceCompute(self.zone, project=self.project, client=self.client(), **options)

    # ------------------------------------------------------------ the API

    def handle(self, seen: Seen) -> Reply:
        prefix = f"/compute/v1/projects/{self.project}/zones/{self.zone}/instances"
        path = unquote(seen.path)
        if not path.startswith(prefix):
            return _error(404, f"The resource '{path}' was not found")
        rest = [p for p in path[len(prefix) :].split("/") if p]
        with self._lock:
            if not rest and seen.method == "GET":
                return self._list(seen.query)
            if not rest and seen.method == "POST":
                return self._insert(seen.body or {})
            name = rest[0]
            instance = self.instances.get(name)
            if instance is None:
                return _error(
                    404, f"The resource 'projects/{self.project}/zones/{self.zone}/instances/{name}' was not found"
                )
            if len(rest) == 1 and seen.method == "GET":
                return 200, {}, instance
            if len(rest) == 1 and seen.method == "DELETE":
                del self.instances[name]
                return self._operation("delete", name)
            if len(rest) == 2 and seen.method == "POST" and rest[1] in ("start", "stop"):
                instance["status"] = "RUNNING" if rest[1] == "start" else "TERMINATED"
                return self._operation(rest[1], name)
        return _error(400, f"unsupported {seen.method} {path}")

    def _list(self, query: dict[str, str]) -> Reply:
        size = min(int(query.get("maxResults", "500")), 500)
        start = int(query.get("pageToken") or 0)
        names = sorted(self.instances)
        page = names[start : start + size]
        body: dict[str, Any] = {"kind": "compute#instanceList", "items": [self.instances[n] for n in page]}
        if start + size < len(names):
            body["nextPageToken"] = str(start + size)
        return 200, {}, body

    def _insert(self, body: dict[str, Any]) -> Reply:
        name = body.get("name", "")
        if name in self.instances:
            return _error(
                409, f"The resource 'projects/{self.project}/zones/{self.zone}/instances/{name}' already exists"
            )
        machine = str(body.get("machineType", "")).rsplit("/", 1)[-1]
        if machine not in self.machine_types:
            return _error(
                400,
                f"Invalid value for field 'resource.machineType': '{body.get('machineType')}'. "
                f"Machine type with name '{machine}' does not exist in zone '{self.zone}'.",
            )
        image = body["disks"][0]["initializeParams"]["sourceImage"]
        if image not in self.images:
            return _error(404, f"The resource '{image}' was not found")
        number = next(self._ids)
        self.instances[name] = {
            "kind": "compute#instance",
            "id": str(number),
            "name": name,
            "status": "RUNNING",  # real GCE passes PROVISIONING and STAGING first
            "zone": f"https://www.googleapis.com/compute/v1/projects/{self.project}/zones/{self.zone}",
            "machineType": f"https://www.googleapis.com/compute/v1/projects/{self.project}/zones/{self.zone}"
            f"/machineTypes/{machine}",
            "labels": dict(body.get("labels", {})),
            "metadata": {"kind": "compute#metadata", "items": list(body.get("metadata", {}).get("items", []))},
            "networkInterfaces": [
                {
                    "network": "default",
                    "networkIP": f"10.132.0.{number % 250 + 2}",
                    "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "natIP": "34.76.0.1"}],
                }
            ],
            "creationTimestamp": "2025-10-20T07:48:00.000-07:00",
        }
        return self._operation("insert", name)

    def _operation(self, kind: str, name: str) -> Reply:
        number = next(self._ops)
        return (
            200,
            {},
            {
                "kind": "compute#operation",
                "id": str(number),
                "name": f"operation-{number}",
                "operationType": kind,
                "status": "DONE",
                "progress": 100,
                "targetLink": f"https://www.googleapis.com/compute/v1/projects/{self.project}/zones/{self.zone}"
                f"/instances/{name}",
                "zone": f"https://www.googleapis.com/compute/v1/projects/{self.project}/zones/{self.zone}",
            },
        )
