"""The portable object model on the real SDKs and servers (moto, Azurite, fake-gcs-server):
generated keys, metadata and content types give a `FailoverError` or the same object on
every cloud, never an SDK exception and never a half-replicated write."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from failover import FailoverStorage, Target, replication
from tests.unit.test_portable_objects import CONTENT_TYPES, KEYS, METADATA, assert_all_or_nothing

pytestmark = pytest.mark.integration
NAMES = ("aws", "azure", "gcp")

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)


@pytest.fixture
def clouds(s3_store: Any, blob_store: Any, gcs_store: Any) -> list[Any]:
    return [s3_store, blob_store, gcs_store]


@EXAMPLES
@given(key=KEYS, content_type=CONTENT_TYPES, metadata=METADATA)
def test_every_adapter_refuses_or_stores_exactly(clouds: list[Any], key: Any, content_type: Any, metadata: Any) -> None:
    for store in clouds:
        assert_all_or_nothing(store, [store], key, content_type, metadata)


@EXAMPLES
@given(key=KEYS, content_type=CONTENT_TYPES, metadata=METADATA)
def test_a_replicated_write_is_refused_or_on_every_cloud(
    clouds: list[Any], key: Any, content_type: Any, metadata: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        storage = FailoverStorage(
            [Target(name, store, priority=i) for i, (name, store) in enumerate(zip(NAMES, clouds, strict=True))],
            writes=replication.All(journal=Path(folder) / "journal.sqlite", sync="normal"),
        )
        assert_all_or_nothing(storage, clouds, key, content_type, metadata)
        assert storage.pending() == {}
        storage.close()
