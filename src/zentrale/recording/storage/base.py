"""The storage interface and its errors, shared by every backend.

Keys are relative names of ASCII letters, digits and `._-/` (e.g. `2026/05/<uuid>`), so the
same key is valid on a filesystem and in S3. Reads are iterators of chunks; a range is
`[start, end)` in object bytes. Backends translate their own failures into these exceptions,
so callers and the HTTP edge deal with one vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from zentrale.base.errors import ZentraleError

DEFAULT_CHUNK_SIZE = 1024 * 1024
_KEY = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


class StorageError(ZentraleError):
    """Base of every storage problem."""

    code = "storage"


class StorageUnavailableError(StorageError):
    """The store could not be reached or failed transiently; retrying may succeed."""

    code = "storage-unavailable"


class ObjectNotFoundError(StorageError):
    """No object has this key."""

    code = "object-not-found"


class StorageFullError(StorageError):
    """The store has no room for the object; nothing partial was left behind."""

    code = "storage-full"


class InvalidObjectKeyError(StorageError, ValueError):
    """A key the stores cannot hold."""

    code = "invalid-object-key"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What `head` reports about a stored object."""

    key: str
    size: int


def check_key(key: str) -> str:
    """Return `key` if it is a valid object key, else raise InvalidObjectKeyError."""
    parts = key.split("/")
    if len(key) > 512 or not _KEY.fullmatch(key) or any(p in {".", ".."} for p in parts):
        raise InvalidObjectKeyError(f"invalid object key {key!r}")
    return key


class ObjectStore(Protocol):
    """A place to put, read, list and delete encrypted recording objects."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenated `chunks` under `key`, replacing it; return its size."""
        ...

    def get(self, key: str) -> Iterator[bytes]:
        """Return the object's bytes as chunks; ObjectNotFoundError is raised before the first."""
        ...

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Return object bytes [start, end) as chunks (end is clamped to the size)."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Return the object's size, or raise ObjectNotFoundError."""
        ...

    def exists(self, key: str) -> bool:
        """Return whether an object has this key."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys that start with `prefix`, in no particular order."""
        ...


def primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Start `chunks` now, so errors such as ObjectNotFoundError surface at the call, not later."""
    first = next(chunks, None)
    if first is None:
        return iter(())
    return _chain_first(first, chunks)


def _chain_first(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
