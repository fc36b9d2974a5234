"""The encrypted recording format: AES-256-GCM over fixed-size segments (STREAM construction).

An object is a 16-byte header followed by segments. Segment `i` is the AES-256-GCM encryption
of up to `segment_size` plaintext bytes under the recording's data key, with the 12-byte nonce
`nonce_prefix (7) || i (4, big endian) || last (1)` and the associated data
`header || recording id`. Only the last segment may be shorter than `segment_size` and only it
carries `last = 1`, so truncation, reordering, extension and splicing between recordings fail
authentication. Any plaintext byte range can be decrypted from the segments covering it alone.
The layout is documented with test vectors in `docs/encryption.md`. This module is pure: it
neither reads files nor knows about key providers or storage.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.base.errors import ZentraleError

MAGIC = b"ZREC"
VERSION = 1
HEADER_SIZE = 16
NONCE_PREFIX_SIZE = 7
TAG_SIZE = 16
KEY_SIZE = 32
DEFAULT_SEGMENT_SIZE = 64 * 1024
MIN_SEGMENT_SIZE = 16
MAX_SEGMENTS = 2**32
_HEADER = struct.Struct(">4sBI7s")


class EnvelopeError(ZentraleError):
    """A ciphertext that is not a valid recording object for this key and recording id."""

    code = "envelope"


class MalformedObjectError(EnvelopeError):
    """The bytes are not in this format (bad magic, version, header or size)."""

    code = "malformed-object"


class TamperedObjectError(EnvelopeError):
    """A segment failed authentication: modified, truncated, reordered, extended or misbound."""

    code = "tampered-object"


@dataclass(frozen=True, slots=True)
class Header:
    """The parameters written at the start of every object."""

    segment_size: int
    nonce_prefix: bytes
    version: int = VERSION

    def to_bytes(self) -> bytes:
        """Return the 16 header bytes."""
        return _HEADER.pack(MAGIC, self.version, self.segment_size, self.nonce_prefix)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        """Parse and check the 16 header bytes."""
        if len(data) < HEADER_SIZE:
            raise MalformedObjectError(f"object shorter than its {HEADER_SIZE}-byte header")
        magic, version, segment_size, prefix = _HEADER.unpack(data[:HEADER_SIZE])
        if magic != MAGIC:
            raise MalformedObjectError("not a zentrale recording object (bad magic)")
        if version != VERSION:
            raise MalformedObjectError(f"unsupported recording format version {version}")
        if segment_size < MIN_SEGMENT_SIZE:
            raise MalformedObjectError(f"invalid segment size {segment_size}")
        return cls(segment_size=segment_size, nonce_prefix=prefix, version=version)

    @classmethod
    def new(cls, segment_size: int = DEFAULT_SEGMENT_SIZE) -> Header:
        """Return a header with a fresh random nonce prefix."""
        if not MIN_SEGMENT_SIZE <= segment_size < 2**32:
            raise ValueError(f"segment size must be in [{MIN_SEGMENT_SIZE}, 2**32)")
        return cls(segment_size=segment_size, nonce_prefix=os.urandom(NONCE_PREFIX_SIZE))

    @property
    def sealed_segment_size(self) -> int:
        """Return the size of a full segment in the object (plaintext plus tag)."""
        return self.segment_size + TAG_SIZE


def generate_data_key() -> bytes:
    """Return a fresh random 256-bit data key for one recording."""
    return AESGCM.generate_key(bit_length=256)


class _SegmentCipher:
    """AES-GCM bound to one object: its key, header and recording id."""

    def __init__(self, key: bytes, header: Header, recording_id: str) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("the data key must be 32 bytes")
        self._aead = AESGCM(key)
        self._prefix = header.nonce_prefix
        # The header is bound so its fields cannot be swapped; the recording id so an object
        # cannot be passed off as another recording's, even under the same key.
        self._aad = header.to_bytes() + recording_id.encode()

    def _nonce(self, index: int, last: bool) -> bytes:
        if index >= MAX_SEGMENTS:
            raise ValueError("too many segments for one object")
        return self._prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")

    def seal(self, index: int, plaintext: bytes, last: bool) -> bytes:
        """Encrypt segment `index`."""
        return self._aead.encrypt(self._nonce(index, last), plaintext, self._aad)

    def open(self, index: int, sealed: bytes, last: bool) -> bytes:
        """Decrypt and authenticate segment `index`."""
        try:
            return self._aead.decrypt(self._nonce(index, last), sealed, self._aad)
        except InvalidTag:
            kind = "final " if last else ""
            raise TamperedObjectError(f"{kind}segment {index} failed authentication") from None


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Yield `chunks` regrouped into pieces of exactly `size` bytes; the last may be shorter."""
    buffer = bytearray()
    for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield bytes(chunk)  # the common aligned case, without copying through the buffer
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _with_last_flag(pieces: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield each piece with whether it is the final one (at least one, maybe empty, piece)."""
    current = next(pieces, b"")
    for following in pieces:
        yield current, False
        current = following
    yield current, True


def encrypt(
    chunks: Iterable[bytes],
    key: bytes,
    recording_id: str,
    header: Header | None = None,
) -> Iterator[bytes]:
    """Yield the object for the plaintext `chunks`: the header, then one item per segment."""
    header = header or Header.new()
    cipher = _SegmentCipher(key, header, recording_id)
    yield header.to_bytes()
    segments = _with_last_flag(rechunk(chunks, header.segment_size))
    for index, (plaintext, last) in enumerate(segments):
        yield cipher.seal(index, plaintext, last)


def decrypt(chunks: Iterable[bytes], key: bytes, recording_id: str) -> Iterator[bytes]:
    """Yield the plaintext of the object read from `chunks`, one segment at a time.

    Plaintext is released segment by segment as each one authenticates; a `TamperedObjectError`
    raised later means the whole stream must be discarded.
    """
    pieces = iter(chunks)
    head, rest = _split_header(pieces)
    header = Header.from_bytes(head)
    cipher = _SegmentCipher(key, header, recording_id)
    segments = _with_last_flag(rechunk(rest, header.sealed_segment_size))
    for index, (sealed, last) in enumerate(segments):
        _check_sealed_length(sealed, index)
        yield cipher.open(index, sealed, last)


def _split_header(pieces: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """Return the first HEADER_SIZE bytes and an iterator over everything after them."""
    head = bytearray()
    for chunk in pieces:
        head += chunk
        if len(head) >= HEADER_SIZE:
            break
    tail = bytes(head[HEADER_SIZE:])

    def rest() -> Iterator[bytes]:
        if tail:
            yield tail
        yield from pieces

    return bytes(head[:HEADER_SIZE]), rest()


def _check_sealed_length(sealed: bytes, index: int) -> None:
    if len(sealed) < TAG_SIZE:
        raise TamperedObjectError(f"segment {index} is shorter than its tag (truncated object)")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the segments of an object of a given total size lie."""

    header: Header
    object_size: int

    @property
    def segment_count(self) -> int:
        """Return the number of segments in the object (at least one)."""
        body = self.object_size - HEADER_SIZE
        return max(1, -(-body // self.header.sealed_segment_size))

    @property
    def plaintext_size(self) -> int:
        """Return the size of the plaintext the object holds."""
        return self.object_size - HEADER_SIZE - self.segment_count * TAG_SIZE

    def check(self) -> None:
        """Raise MalformedObjectError unless a valid object can have this size."""
        body = self.object_size - HEADER_SIZE
        last = body - (self.segment_count - 1) * self.header.sealed_segment_size
        if body < TAG_SIZE or last < TAG_SIZE:
            raise MalformedObjectError(f"impossible object size {self.object_size} (truncated?)")
        if self.segment_count > MAX_SEGMENTS:
            raise MalformedObjectError("object has more segments than the format allows")

    def segments_for(self, start: int, end: int) -> range:
        """Return the indices of the segments holding plaintext bytes [start, end)."""
        size = self.header.segment_size
        if end <= start:
            return range(0)
        return range(start // size, (end - 1) // size + 1)

    def sealed_span(self, segments: range) -> tuple[int, int]:
        """Return the object byte range [start, end) holding `segments`."""
        sealed = self.header.sealed_segment_size
        start = HEADER_SIZE + segments.start * sealed
        return start, min(self.object_size, HEADER_SIZE + segments.stop * sealed)


def clamp_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """Return [start, end) limited to a plaintext of `size` bytes (end None means to the end)."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range [{start}, {end})")
    stop = size if end is None else min(end, size)
    return min(start, stop), stop


def decrypt_segments(
    sealed: Iterable[bytes],
    key: bytes,
    recording_id: str,
    layout: Layout,
    segments: range,
) -> Iterator[bytes]:
    """Yield the plaintext of `segments`, read as the contiguous object bytes in `sealed`."""
    cipher = _SegmentCipher(key, layout.header, recording_id)
    last_index = layout.segment_count - 1
    pieces = rechunk(sealed, layout.header.sealed_segment_size)
    for index in segments:
        chunk = next(pieces, b"")
        _check_sealed_length(chunk, index)
        yield cipher.open(index, chunk, index == last_index)


def slice_plaintext(
    segments_plaintext: Iterable[bytes],
    first_segment: int,
    segment_size: int,
    start: int,
    end: int,
) -> Iterator[bytes]:
    """Yield the part of consecutive segment plaintexts that falls within [start, end)."""
    offset = first_segment * segment_size
    for plaintext in segments_plaintext:
        lo, hi = max(start - offset, 0), min(end - offset, len(plaintext))
        if lo < hi:
            yield plaintext[lo:hi]
        offset += len(plaintext)


RangeReader = Callable[[int, int], Iterable[bytes]]
"""Reads object bytes [start, end) (storage `get_range`, a file, a byte string)."""


def decrypt_range(
    read: RangeReader,
    object_size: int,
    key: bytes,
    recording_id: str,
    start: int,
    end: int | None,
) -> Iterator[bytes]:
    """Yield plaintext bytes [start, end), reading only the header and the segments needed.

    Pass the object size recorded when the object was written, not the size storage reports
    now, so a whole final segment cut off later is still noticed when the range reaches it.
    """
    header = Header.from_bytes(b"".join(read(0, HEADER_SIZE)))
    layout = Layout(header, object_size)
    layout.check()
    start, end = clamp_range(start, end, layout.plaintext_size)
    segments = layout.segments_for(start, end)
    if not segments:
        return
    sealed = read(*layout.sealed_span(segments))
    plaintext = decrypt_segments(
        sealed=sealed, key=key, recording_id=recording_id, layout=layout, segments=segments
    )
    yield from slice_plaintext(
        segments_plaintext=plaintext,
        first_segment=segments.start,
        segment_size=header.segment_size,
        start=start,
        end=end,
    )


def bytes_reader(data: bytes) -> RangeReader:
    """Return a RangeReader over an object held in memory."""
    view = memoryview(data)
    return lambda start, end: (bytes(view[start:end]),)
