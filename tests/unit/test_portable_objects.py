"""The portable object model through the facade: bad input is refused before any target is
written, internal metadata stays internal, and what one replica holds every replica holds."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover import FailoverStorage, Target, replication
from failover.capabilities import ObjectInfo
from failover.errors import FailoverError, InvalidInput, NotFound
from failover.portable import MAX_METADATA_ENTRIES, check_metadata
from failover.providers.memory import MemoryObjectStore
from failover.replication.versioning import VERSION_KEY, version_of
from tests.unit.replicas import make_replicas


class Spy:
    """A memory store that counts the calls that reach it."""

    def __init__(self) -> None:
        self.store = MemoryObjectStore()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if callable(attribute) and name != "probe":

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute


def _spied() -> tuple[FailoverStorage, list[Spy]]:
    spies = [Spy(), Spy()]
    storage = FailoverStorage([Target(f"memory:{i}", spy, priority=i) for i, spy in enumerate(spies)])
    return storage, spies


BAD_WRITES: list[dict[str, Any]] = [
    {"metadata": {"Project-Name": "x"}},
    {"metadata": {"1st": "x"}},
    {"metadata": {"project_name": "x"}},
    {"metadata": {"note": "line\nbreak"}},
    {"metadata": {"note": "\u0100 outside Latin-1"}},
    {"metadata": {"n\u00e9": "non-ASCII name"}},
    {"metadata": ["not", "a", "mapping"]},
    {"metadata": {f"m{i}": "v" for i in range(120)}},
    {"content_type": "text/plain; charset=\u00fcber"},
    {"key": "lone\udc80surrogate"},
    {"key": "c1\x9bcontrol"},
    {"key": "a/../b"},
    {"key": ".."},
    {"key": "back\\slash"},
    {"key": "list\uffff"},
]


@pytest.mark.parametrize("bad", BAD_WRITES, ids=lambda bad: repr(bad)[:40])
def test_unportable_write_is_invalid_input_before_any_target_is_called(bad: dict[str, Any]) -> None:
    storage, spies = _spied()
    args = {"key": "k", "metadata": None, "content_type": None, **bad}
    with pytest.raises(InvalidInput) as caught:
        storage.put(args["key"], b"x", content_type=args["content_type"], metadata=args["metadata"])
    assert caught.value.status == "permanent"
    assert [spy.calls for spy in spies] == [0, 0]


def test_five_bad_puts_leave_every_target_healthy() -> None:
    storage, spies = _spied()
    for _ in range(5):
        with pytest.raises(InvalidInput):
            storage.put("k", b"x", metadata={"note": "a\nb"})
    assert [spy.calls for spy in spies] == [0, 0]
    assert storage.put("k", b"x").size == 1  # the first target still takes writes
    assert spies[0].calls == 1


def test_non_ascii_content_type_writes_no_replica_and_journals_nothing(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    with pytest.raises(InvalidInput, match="content_type"):
        r.storage.put("k", b"x", content_type="text/plain; name=caf\u00e9")
    assert [r.contents(i) for i in range(3)] == [{}, {}, {}]
    assert r.storage.pending() == {}


def test_get_range_with_a_str_offset_is_invalid_input() -> None:
    storage, spies = _spied()
    with pytest.raises(InvalidInput, match="range start must be an int"):
        storage.get_range("k", "0", 1)  # type: ignore[arg-type]
    assert [spy.calls for spy in spies] == [0, 0]


def test_version_is_hidden_from_head_and_list_and_reported_as_version(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    put = r.storage.put("k", b"v", metadata={"owner": "me"})
    head = r.storage.head("k")
    [listed] = r.storage.list()
    for info in (put, head, listed):
        assert dict(info.metadata) == {"owner": "me"}
        assert info.version is not None and info.version == version_of(put)
    assert put == ObjectInfo(**{**_fields(head), "modified": put.modified})


def test_head_metadata_round_trips_through_a_replicated_put(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    r.storage.put("k", b"one", content_type="text/csv", metadata={"owner": "me"})
    head = r.storage.head("k")
    r.storage.put("k", b"two", content_type=head.content_type, metadata=head.metadata)
    again = r.storage.head("k")
    assert (dict(again.metadata), again.content_type) == ({"owner": "me"}, "text/csv")
    assert again.version is not None and again.version > (head.version or "")


def test_a_repair_copied_from_another_replica_keeps_the_version(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, inline_limit=0)  # no bytes in the journal: copied from a replica
    put = r.storage.put("k", b"v", metadata={"owner": "me"})
    r.storage.repair()
    for store in r.stores:
        head = store.head("k")
        assert (dict(head.metadata), head.version) == ({"owner": "me"}, put.version)


def test_the_version_name_is_reserved_for_callers(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    with pytest.raises(InvalidInput, match=VERSION_KEY):
        r.storage.put("k", b"v", metadata={VERSION_KEY: "01761234567890123456-me"})


def test_metadata_is_copied_before_the_write() -> None:
    metadata = {"a": "1"}
    checked = check_metadata(metadata)
    metadata["a"] = "changed"
    assert checked == {"a": "1"}
    assert len(check_metadata({f"m{i}": "v" for i in range(MAX_METADATA_ENTRIES)})) == MAX_METADATA_ENTRIES


def _fields(info: ObjectInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in ObjectInfo.__dataclass_fields__}


# ---------------------------------------------------------------- property: all or nothing

KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("./\\\x85\uffff\ud800"),
               min_size=0, max_size=12)
NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True) | st.text(
    string.ascii_letters + string.digits + "_-. \u00e9", min_size=0, max_size=8
)
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10) | st.text(
    st.characters(max_codepoint=0x17F) | st.sampled_from("\n\r\t "), max_size=10
)
CONTENT_TYPES = (
    st.none()
    | st.from_regex(r"[a-zA-Z]{1,5}/[a-z0-9.+-]{1,8}(; ?[a-z]{1,4}=[a-z0-9]{1,4})?", fullmatch=True)
    | st.text(st.characters(max_codepoint=0x17F), max_size=12)
)
METADATA = st.none() | st.dictionaries(NAMES, VALUES, max_size=4) | st.sampled_from([["a"], "a=b", 3])


def assert_all_or_nothing(
    storage: Any, replicas: list[Any], key: Any, content_type: Any, metadata: Any
) -> None:
    """A `FailoverError`, or the same object on every replica; never anything else."""
    try:
        put = storage.put(key, b"payload", content_type=content_type, metadata=metadata)
    except FailoverError:
        for replica in replicas:
            with pytest.raises(FailoverError):
                replica.head(key)
        return
    expected = dict(metadata or {})
    for replica in replicas:
        head = replica.head(key)
        assert replica.get(key) == b"payload"
        assert dict(head.metadata) == expected == dict(put.metadata)
        assert head.content_type == put.content_type == (content_type or "application/octet-stream")
        assert [info.key for info in replica.list(key)][:1] == [key]
        replica.delete(key)


@settings(max_examples=100, deadline=None)
@given(key=KEYS, content_type=CONTENT_TYPES, metadata=METADATA)
def test_a_write_is_refused_or_on_every_replica(key: str, content_type: str | None, metadata: Any) -> None:
    stores = [MemoryObjectStore(), MemoryObjectStore()]
    with tempfile.TemporaryDirectory() as folder:
        storage = FailoverStorage(
            [Target(f"memory:{i}", s, priority=i) for i, s in enumerate(stores)],
            writes=replication.All(journal=Path(folder) / "journal.sqlite", sync="normal"),
        )
        assert_all_or_nothing(storage, stores, key, content_type, metadata)
        storage.close()


def test_reads_refuse_a_key_no_write_could_have_made() -> None:
    storage, _ = _spied()
    with pytest.raises(InvalidInput):
        storage.get("a/./b")
    with pytest.raises(NotFound):
        storage.get("a/b.c")
