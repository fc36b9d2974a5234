"""Sealing recordings into storage and reading them back, whole and by range."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zentrale.recording import vault
from zentrale.recording.envelope import HEADER_SIZE, TAG_SIZE, TamperedObjectError
from zentrale.recording.keys.base import NoMatchingKeyError
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.storage.memory import MemoryStore

SEGMENT = 4096
AUDIO = os.urandom(10 * SEGMENT + 321)


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.fixture
def qa() -> PrivateKeyIdentity:
    return PrivateKeyIdentity.generate()


def seal(store: MemoryStore | LocalStore, qa: PrivateKeyIdentity) -> vault.SealedRecording:
    escrow = LocalKeyProvider(Keyring.generate("escrow"))
    return vault.seal(store, [qa.recipient(), escrow], "rec-1", chunks(AUDIO), segment_size=SEGMENT)


def test_seal_reports_what_the_database_keeps(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    sealed = seal(store, qa)
    segments = 11
    assert sealed.object_key == "rec-1"
    assert sealed.plaintext_size == len(AUDIO)
    assert sealed.object_size == len(store.objects["rec-1"])
    assert sealed.object_size == HEADER_SIZE + len(AUDIO) + segments * TAG_SIZE
    assert (sealed.format_version, sealed.segment_size) == (1, SEGMENT)
    assert [w.key_id for w in sealed.wrapped_keys] == [qa.key_id, "escrow"]
    row = json.loads(json.dumps(sealed.to_json()))
    assert vault.SealedRecording.from_json(row) == sealed
    assert "wrapped_keys" not in repr(sealed)


def test_the_object_holds_no_plaintext_and_no_key_material(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    sealed = seal(store, qa)
    stored = store.objects["rec-1"]
    assert AUDIO[:64] not in stored
    assert all(w.blob not in stored for w in sealed.wrapped_keys)


def test_read_whole_and_ranges_from_local_storage(tmp_path: Path, qa: PrivateKeyIdentity) -> None:
    store = LocalStore(tmp_path)
    sealed = seal(store, qa)
    assert b"".join(vault.read(store, sealed, [qa])) == AUDIO
    for start, end in [(0, 1), (SEGMENT - 1, SEGMENT + 1), (5000, None), (0, None)]:
        got = b"".join(
            vault.read_range(store=store, sealed=sealed, unwrappers=[qa], start=start, end=end)
        )
        assert got == AUDIO[start:end]


def test_a_range_fetches_only_its_segments(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    sealed = seal(store, qa)
    store.bytes_read = 0
    got = b"".join(
        vault.read_range(
            store=store, sealed=sealed, unwrappers=[qa], start=3 * SEGMENT + 5, end=3 * SEGMENT + 50
        )
    )
    assert got == AUDIO[3 * SEGMENT + 5 : 3 * SEGMENT + 50]
    assert store.bytes_read == HEADER_SIZE + SEGMENT + TAG_SIZE


def test_escrow_alone_opens_the_recording(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    escrow = LocalKeyProvider(Keyring.generate("escrow"))
    sealed = vault.seal(store, [qa.recipient(), escrow], "rec-1", [AUDIO])
    assert b"".join(vault.read(store, sealed, [escrow])) == AUDIO


def test_erasing_the_wrapped_keys_makes_the_object_unreadable(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    sealed = seal(store, qa)
    shredded = vault.SealedRecording.from_json({**sealed.to_json(), "wrapped_keys": []})
    with pytest.raises(NoMatchingKeyError):
        vault.read(store, shredded, [qa])


def test_an_object_swapped_for_another_recordings_is_rejected(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    sealed = seal(store, qa)
    other = vault.seal(store, [qa.recipient()], "rec-2", [AUDIO], segment_size=SEGMENT)
    store.objects["rec-1"] = store.objects[other.object_key]
    with pytest.raises(TamperedObjectError):
        b"".join(vault.read(store, sealed, [qa]))


def test_a_recording_that_fails_to_wrap_writes_nothing(qa: PrivateKeyIdentity) -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="recipient"):
        vault.seal(store, [], "rec-1", [AUDIO])
    assert store.objects == {}
