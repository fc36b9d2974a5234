"""In-memory storage: a hand-written fake `ObjectStore` for tests of code that stores objects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from zentrale.recording.storage.base import ObjectInfo, ObjectNotFoundError, check_key


class MemoryStore:
    """Objects in a dict; `bytes_read` counts the bytes handed out, for tests of range reads."""

    def __init__(self, chunk_size: int = 64 * 1024) -> None:
        self.objects: dict[str, bytes] = {}
        self.chunk_size = chunk_size
        self.bytes_read = 0

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the joined chunks."""
        data = b"".join(chunks)
        self.objects[check_key(key)] = data
        return len(data)

    def _object(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFoundError(f"no object {key!r}") from None

    def get(self, key: str) -> Iterator[bytes]:
        """Return the object in chunks."""
        return self.get_range(key, 0, len(self._object(key)))

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Return bytes [start, end) in chunks."""
        data = self._object(key)[start:end]
        self.bytes_read += len(data)
        step = self.chunk_size
        return iter([data[i : i + step] for i in range(0, len(data), step)])

    def head(self, key: str) -> ObjectInfo:
        """Return the object's size."""
        return ObjectInfo(key=key, size=len(self._object(key)))

    def exists(self, key: str) -> bool:
        """Return whether the key is present."""
        return key in self.objects

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        self.objects.pop(key, None)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with `prefix`, sorted."""
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))
