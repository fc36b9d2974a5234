"""Playback: map an HTTP Range onto the encrypted object and stream the decrypted bytes.

The plaintext byte range asked for is handed to `vault.read_range`, which fetches and opens
only the segments holding it, so seeking in a long call costs one or two segments and no
decrypted copy ever touches the disk. Key unwrapping and the first storage read run in a
thread; the stream is iterated in Starlette's thread pool.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import structlog

from zentrale.base.errors import RangeNotSatisfiableError, UnavailableError
from zentrale.recording import envelope, vault
from zentrale.recording.errors import RecordingNotFoundError, RecordingUnavailableError
from zentrale.recording.keys.base import KeyProviderError, KeyServiceUnavailableError, KeyUnwrapper
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.base import (
    ObjectNotFoundError,
    ObjectStore,
    StorageUnavailableError,
    primed,
)

log = structlog.get_logger(__name__)

CONTENT_TYPES = {
    "opus": "audio/ogg; codecs=opus",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
}
EXTENSIONS = {"opus": "opus", "ogg": "ogg", "wav": "wav", "mp3": "mp3"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Hand the socket bigger pieces than one 64 KiB segment: fewer thread hops per second.
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Plaintext bytes [start, end) of a recording SIZE bytes long."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """Number of bytes in the range."""
        return self.end - self.start

    def content_range(self) -> str:
        """Return the Content-Range header value."""
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """Return the single byte range asked for (None: the whole file), or raise
    RangeNotSatisfiableError.

    Multiple ranges are answered with the whole file, which RFC 9110 allows.
    """
    if header is None or "," in header:
        return None
    found = _RANGE.match(header.strip())
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    if start >= size or end <= start:
        raise RangeNotSatisfiableError(f"bytes {header} lie outside the recording", size)
    return ByteRange(start, end, size)


def content_type(recording: Recording) -> str:
    """Return the MIME type of the recording's audio."""
    return CONTENT_TYPES.get(recording.format, "application/octet-stream")


def sealed_of(recording: Recording) -> vault.SealedRecording:
    """Return the envelope facts of a stored recording; raise RecordingUnavailableError."""
    if recording.state is not RecordingState.STORED or recording.object_key is None:
        raise RecordingUnavailableError("the recording's audio is not stored (yet)")
    if recording.object_size is None or recording.plaintext_size is None:
        raise RecordingUnavailableError("the recording's stored size is unknown")
    if not recording.wrapped_keys:
        raise RecordingUnavailableError("the recording was erased (its keys are deleted)")
    header = recording.encryption_header or {}
    return vault.SealedRecording.from_json(
        {
            "recording_id": recording.id,
            "object_key": recording.object_key,
            "object_size": recording.object_size,
            "plaintext_size": recording.plaintext_size,
            "format_version": header.get("format_version", 1),
            "segment_size": header.get("segment_size", envelope.DEFAULT_SEGMENT_SIZE),
            "wrapped_keys": recording.wrapped_keys,
        }
    )


async def open_plaintext(
    store: ObjectStore,
    unwrappers: Sequence[KeyUnwrapper],
    sealed: vault.SealedRecording,
    wanted: ByteRange | None,
) -> Iterator[bytes]:
    """Unwrap the key and start reading; translate storage and key errors for the client."""
    start, end = (wanted.start, wanted.end) if wanted else (0, None)
    try:
        chunks = await asyncio.to_thread(_first_read, store, unwrappers, sealed, start, end)
    except ObjectNotFoundError:
        raise RecordingNotFoundError(
            sealed.recording_id, "the recording's stored object is missing"
        ) from None
    except (StorageUnavailableError, KeyServiceUnavailableError):
        raise UnavailableError("storage or the key service is unreachable; retry") from None
    except KeyProviderError:
        raise RecordingUnavailableError("no key at hand opens this recording") from None
    except envelope.EnvelopeError:
        log.error("playback.tampered_object", recording_id=sealed.recording_id)
        raise RecordingUnavailableError("the stored audio failed its integrity check") from None
    return coalesce(chunks, _CHUNK)


def _first_read(
    store: ObjectStore,
    unwrappers: Sequence[KeyUnwrapper],
    sealed: vault.SealedRecording,
    start: int,
    end: int | None,
) -> Iterator[bytes]:
    # Read the first piece now, so a missing object or bad key fails before the headers go out.
    return primed(
        vault.read_range(store=store, sealed=sealed, unwrappers=unwrappers, start=start, end=end)
    )


def coalesce(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-cut CHUNKS into pieces of about SIZE bytes."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)
