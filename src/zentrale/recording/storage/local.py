"""Local filesystem storage: the default backend, with atomic, durable writes.

An object lives at `root/ab/cd/<quoted key>`, where `abcd` begins the SHA-256 of the key, so
no directory grows huge. A put writes a temporary file in the target directory, fsyncs it,
renames it over the target and fsyncs the directory: readers see the old object or the whole
new one, never a part, and a crash or a full disk leaves at most a stray `.~tmp-` file that is
removed on the error path and ignored by `list`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import structlog

from zentrale.recording.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    ObjectNotFoundError,
    StorageError,
    StorageFullError,
    StorageUnavailableError,
    check_key,
    primed,
)

log = structlog.get_logger(__name__)

TEMP_PREFIX = ".~tmp-"  # "~" cannot occur in a key, so temp files never look like objects
_FULL = {errno.ENOSPC, errno.EDQUOT}
_TRANSIENT = {errno.EIO, errno.ETIMEDOUT, errno.ESTALE, errno.EAGAIN}


def storage_error(exc: OSError, path: Path) -> StorageError:
    """Return our exception for an OS error on `path`."""
    if exc.errno in _FULL:
        return StorageFullError(f"no space left on the device holding {path}: {exc.strerror}")
    if exc.errno in _TRANSIENT:
        return StorageUnavailableError(f"I/O error on {path}: {exc.strerror}")
    return StorageError(f"cannot use {path}: {exc.strerror or exc}")


class LocalStore:
    """Objects as files under `root`."""

    def __init__(
        self, root: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, *, durable: bool = True
    ) -> None:
        self.root = root
        self.chunk_size = chunk_size
        self.durable = durable
        """Whether a put or delete is fsynced (False: a scratch store nothing reads after a
        crash, such as a recording's sealed copy before upload; writes stay atomic)."""

    def path_for(self, key: str) -> Path:
        """Return the file that holds `key`."""
        digest = hashlib.sha256(check_key(key).encode()).hexdigest()
        return self.root / digest[:2] / digest[2:4] / quote(key, safe="")

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store `chunks` under `key` atomically; return the size written."""
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        except OSError as exc:
            raise storage_error(exc, path) from exc
        temp = Path(temp_name)
        try:
            size = _write(fd, chunks, durably=self.durable)
            os.replace(temp, path)
            if self.durable:
                _fsync_directory(path.parent)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise storage_error(exc, path) from exc
            raise
        log.debug("object stored", key=key, size=size)
        return size

    def get(self, key: str) -> Iterator[bytes]:
        """Return the object's bytes as chunks."""
        return primed(self._read(key, 0, None))

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Return object bytes [start, end) as chunks."""
        if start < 0 or end < start:
            raise ValueError(f"invalid byte range [{start}, {end})")
        return primed(self._read(key, start, end - start))

    def _read(self, key: str, start: int, length: int | None) -> Iterator[bytes]:
        path = self.path_for(key)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key!r}") from None
        except OSError as exc:
            raise storage_error(exc, path) from exc
        with file:
            file.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                size = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
                data = file.read(size)
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

    def head(self, key: str) -> ObjectInfo:
        """Return the object's size."""
        path = self.path_for(key)
        try:
            return ObjectInfo(key=key, size=path.stat().st_size)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key!r}") from None
        except OSError as exc:
            raise storage_error(exc, path) from exc

    def exists(self, key: str) -> bool:
        """Return whether an object has this key."""
        return self.path_for(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the object if present, durably."""
        path = self.path_for(key)
        try:
            path.unlink(missing_ok=True)
            if self.durable and path.parent.is_dir():
                _fsync_directory(path.parent)
        except OSError as exc:
            raise storage_error(exc, path) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with `prefix`, sorted."""
        keys = (unquote(path.name) for path in self.root.glob("??/??/*"))
        return iter(sorted(k for k in keys if k.startswith(prefix) and _is_object_name(k)))


def _is_object_name(name: str) -> bool:
    return not name.startswith(TEMP_PREFIX)


def _write(fd: int, chunks: Iterable[bytes], *, durably: bool) -> int:
    """Write every chunk to `fd`, fsync it if DURABLY, and close it; return the byte count."""
    size = 0
    with os.fdopen(fd, "wb") as file:
        for chunk in chunks:
            file.write(chunk)
            size += len(chunk)
        file.flush()
        if durably:
            os.fsync(file.fileno())
    return size


def _fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
