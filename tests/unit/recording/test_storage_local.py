"""Local filesystem storage: streaming, ranges, listing, atomic writes and a full disk."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zentrale.recording.storage.base import (
    InvalidObjectKeyError,
    ObjectNotFoundError,
    StorageFullError,
)
from zentrale.recording.storage.local import TEMP_PREFIX, LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects", chunk_size=1000)


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_put_and_get_stream_in_chunks(store: LocalStore) -> None:
    data = os.urandom(2500)
    assert store.put("2026/05/rec-1", iter([data[:10], data[10:]])) == 2500
    chunks = list(store.get("2026/05/rec-1"))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert b"".join(chunks) == data


def test_objects_live_in_sharded_directories(store: LocalStore) -> None:
    store.put("rec-1", [b"x"])
    path = store.path_for("rec-1")
    relative = path.relative_to(store.root).parts
    assert len(relative) == 3
    assert all(len(part) == 2 for part in relative[:2])
    assert relative[2] == "rec-1"
    assert store.path_for("a/b").name == "a%2Fb"


def test_ranges_head_exists_delete(store: LocalStore) -> None:
    data = bytes(range(256)) * 10
    store.put("rec-1", [data])
    assert b"".join(store.get_range("rec-1", 100, 2100)) == data[100:2100]
    assert b"".join(store.get_range("rec-1", 2500, 9999)) == data[2500:]
    assert list(store.get_range("rec-1", 5000, 6000)) == []
    assert store.head("rec-1").size == 2560
    assert store.exists("rec-1")
    store.delete("rec-1")
    store.delete("rec-1")
    assert not store.exists("rec-1")


def test_missing_objects_raise_at_the_call(store: LocalStore) -> None:
    with pytest.raises(ObjectNotFoundError, match="rec-x"):
        store.get("rec-x")
    with pytest.raises(ObjectNotFoundError):
        store.get_range("rec-x", 0, 10)
    with pytest.raises(ObjectNotFoundError):
        store.head("rec-x")


def test_an_empty_object_reads_as_nothing(store: LocalStore) -> None:
    assert store.put("empty", []) == 0
    assert list(store.get("empty")) == []
    assert store.head("empty").size == 0


def test_list_by_prefix(store: LocalStore) -> None:
    for key in ["2026/05/a", "2026/05/b", "2026/06/c", "other"]:
        store.put(key, [b"x"])
    assert list(store.list("2026/05/")) == ["2026/05/a", "2026/05/b"]
    assert list(store.list()) == ["2026/05/a", "2026/05/b", "2026/06/c", "other"]


@pytest.mark.parametrize("key", ["", "../etc", "a/../b", "/abs", "a//b", "sp ace", "ü", "a/"])
def test_unsafe_keys_are_refused(store: LocalStore, key: str) -> None:
    with pytest.raises(InvalidObjectKeyError):
        store.put(key, [b"x"])


class SourceFailedError(Exception):
    pass


def failing_source(good: bytes) -> Iterator[bytes]:
    yield good
    raise SourceFailedError("encoder crashed")


def test_a_put_that_fails_midway_leaves_no_object_and_no_temp_file(store: LocalStore) -> None:
    with pytest.raises(SourceFailedError):
        store.put("rec-1", failing_source(b"partial"))
    assert not store.exists("rec-1")
    assert files_under(store.root) == []


def test_a_failed_replacement_keeps_the_old_object(store: LocalStore) -> None:
    store.put("rec-1", [b"old"])
    with pytest.raises(SourceFailedError):
        store.put("rec-1", failing_source(b"new and partial"))
    assert b"".join(store.get("rec-1")) == b"old"
    assert [p.name for p in files_under(store.root)] == ["rec-1"]


def test_temp_files_from_a_crash_are_not_listed(store: LocalStore) -> None:
    store.put("rec-1", [b"x"])
    (store.path_for("rec-1").parent / f"{TEMP_PREFIX}abc").write_bytes(b"junk")
    assert list(store.list()) == ["rec-1"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True)
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_raises_storage_full_naming_the_path_and_leaves_nothing(
    tiny_disk: Path,
) -> None:
    store = LocalStore(tiny_disk)
    store.put("kept", [b"k" * 1000])
    big = (b"x" * 65536 for _ in range(40))  # 2.5 MiB into a 1 MiB filesystem
    with pytest.raises(StorageFullError, match="no space left") as caught:
        store.put("too-big", big)
    assert str(store.path_for("too-big")) in str(caught.value)
    assert not store.exists("too-big")
    assert [p.name for p in files_under(tiny_disk)] == ["kept"]
    assert b"".join(store.get("kept")) == b"k" * 1000
    assert store.put("after", [b"fits"]) == 4


@pytest.mark.parametrize(("durable", "syncs"), [(True, 4), (False, 0)])
def test_a_scratch_store_writes_atomically_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncs: int
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = LocalStore(tmp_path / "objects", durable=durable)
    store.put("a/b", [b"sealed"])
    store.put("a/b", [b"sealed again"])  # replaced whole, by rename, either way
    assert b"".join(store.get("a/b")) == b"sealed again"
    assert [p.name for p in files_under(tmp_path) if p.name.startswith(TEMP_PREFIX)] == []
    assert len(synced) == syncs  # the file and its directory, per put
