"""Sealed recordings: encrypt a plaintext stream into storage, and read it back by range.

The entry point for the pipeline (`seal`) and for QA playback (`read`, `read_range`). `seal`
makes a fresh data key, wraps it for every recipient before anything is written (so a key
service outage fails early), streams the encrypted object into the store and returns the
`SealedRecording` the database keeps. Plaintext only passes through memory, one segment at a
time. Erasure is the database's part: deleting the row's wrapped keys makes every copy of the
object unreadable. Everything here blocks; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from zentrale.recording import envelope
from zentrale.recording.keys.base import (
    KeyUnwrapper,
    KeyWrapper,
    WrappedKey,
    unwrap_any,
    wrap_for_all,
    wrapped_keys_from_json,
    wrapped_keys_to_json,
)
from zentrale.recording.storage.base import ObjectStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SealedRecording:
    """What the database keeps per recording to find, check and decrypt its object."""

    recording_id: str
    object_key: str
    object_size: int
    plaintext_size: int
    format_version: int
    segment_size: int
    wrapped_keys: tuple[WrappedKey, ...] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready data (wrapped keys base64-encoded)."""
        return {
            "recording_id": self.recording_id,
            "object_key": self.object_key,
            "object_size": self.object_size,
            "plaintext_size": self.plaintext_size,
            "format_version": self.format_version,
            "segment_size": self.segment_size,
            "wrapped_keys": wrapped_keys_to_json(self.wrapped_keys),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SealedRecording:
        """Parse what `to_json` returned."""
        return cls(
            recording_id=str(data["recording_id"]),
            object_key=str(data["object_key"]),
            object_size=int(data["object_size"]),
            plaintext_size=int(data["plaintext_size"]),
            format_version=int(data["format_version"]),
            segment_size=int(data["segment_size"]),
            wrapped_keys=tuple(wrapped_keys_from_json(data["wrapped_keys"])),
        )


class _Counter:
    """Passes chunks through, counting their bytes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.total = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.total += len(chunk)
            yield chunk


def seal(
    store: ObjectStore,
    recipients: Sequence[KeyWrapper],
    recording_id: str,
    plaintext: Iterable[bytes],
    *,
    object_key: str | None = None,
    segment_size: int = envelope.DEFAULT_SEGMENT_SIZE,
) -> SealedRecording:
    """Encrypt `plaintext` into `store` and return what the database must keep."""
    data_key = envelope.generate_data_key()
    wrapped = wrap_for_all(data_key, recording_id, recipients)
    header = envelope.Header.new(segment_size)
    counted = _Counter(plaintext)
    key = object_key or recording_id
    size = store.put(key, envelope.encrypt(counted, data_key, recording_id, header))
    log.info(
        "recording sealed",
        recording_id=recording_id,
        object_key=key,
        size=size,
        recipients=[item.key_id for item in wrapped],
    )
    return SealedRecording(
        recording_id=recording_id,
        object_key=key,
        object_size=size,
        plaintext_size=counted.total,
        format_version=header.version,
        segment_size=segment_size,
        wrapped_keys=tuple(wrapped),
    )


def read(
    store: ObjectStore, sealed: SealedRecording, unwrappers: Sequence[KeyUnwrapper]
) -> Iterator[bytes]:
    """Yield the whole plaintext, segment by segment, authenticating as it goes."""
    data_key = unwrap_any(sealed.wrapped_keys, unwrappers, sealed.recording_id)
    return envelope.decrypt(store.get(sealed.object_key), data_key, sealed.recording_id)


def read_range(
    store: ObjectStore,
    sealed: SealedRecording,
    unwrappers: Sequence[KeyUnwrapper],
    start: int,
    end: int | None,
) -> Iterator[bytes]:
    """Yield plaintext bytes [start, end) (end None: to the end), fetching only their segments."""
    data_key = unwrap_any(sealed.wrapped_keys, unwrappers, sealed.recording_id)

    def reader(lo: int, hi: int) -> Iterator[bytes]:
        return store.get_range(sealed.object_key, lo, hi)

    return envelope.decrypt_range(
        read=reader,
        object_size=sealed.object_size,
        key=data_key,
        recording_id=sealed.recording_id,
        start=start,
        end=end,
    )
