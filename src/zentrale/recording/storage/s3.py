"""S3 storage (AWS or any S3-compatible store), streaming in both directions.

Objects smaller than `multipart_threshold` go up in one PutObject; larger ones as a multipart
upload of `part_size` parts, aborted if anything fails, so no half-written object appears.
With `checksums` on, each request carries a CRC32 the store verifies (switch it off for stores
that reject the newer checksum headers); with `sse_kms_key_id`, the store also encrypts at rest
under that KMS key, on top of our own encryption. Reads stream the body in chunks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from zentrale.recording.aws import (
    AwsClient,
    ClientSettings,
    error_code,
    http_status,
    is_botocore_error,
    is_transient,
    make_client,
)
from zentrale.recording.envelope import rechunk
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

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_FULL = {"QuotaExceeded", "XMinioStorageFull", "EntityTooLarge"}


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where and how recordings are stored in S3."""

    bucket: str
    prefix: str = ""
    client: ClientSettings = field(default_factory=ClientSettings)
    multipart_threshold: int = 16 * 1024 * 1024
    part_size: int = 8 * 1024 * 1024
    sse_kms_key_id: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE


def _translate(exc: Exception, key: str) -> StorageError:
    """Return our exception for a botocore error about `key`."""
    code = error_code(exc)
    if code in _NOT_FOUND or http_status(exc) == 404:
        return ObjectNotFoundError(f"no object {key!r}")
    if code in _FULL:
        return StorageFullError(f"the store refused {key!r}: {code}")
    if is_transient(exc):
        return StorageUnavailableError(f"S3 unavailable for {key!r}: {exc}")
    return StorageError(f"S3 failed for {key!r}: {exc}")


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if is_botocore_error(exc):
            raise _translate(exc, key) from exc
        raise


class S3Store:
    """Objects in one bucket, under an optional key prefix."""

    def __init__(self, client: AwsClient, settings: S3Settings) -> None:
        if settings.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self._client = client
        self.settings = settings

    @classmethod
    def connect(cls, settings: S3Settings) -> S3Store:
        """Return a store with its own client (close it with `close`)."""
        return cls(make_client("s3", settings.client), settings)

    def close(self) -> None:
        """Close the underlying client and its connections."""
        self._client.close()

    def _key(self, key: str) -> str:
        return self.settings.prefix + check_key(key)

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.settings.sse_kms_key_id:
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = self.settings.sse_kms_key_id
        return extra

    def _checksum(self) -> dict[str, str]:
        return {"ChecksumAlgorithm": "CRC32"} if self.settings.client.checksums else {}

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store `chunks` under `key`: one request when small, else a multipart upload."""
        source = iter(chunks)
        head = _read_up_to(source, self.settings.multipart_threshold)
        with _translated(key):
            if len(head) < self.settings.multipart_threshold:
                return self._put_single(key, head)
            parts = rechunk(_prepend(head, source), self.settings.part_size)
            return self._put_multipart(key, parts)

    def put_retained(self, key: str, data: bytes, until: dt.datetime) -> int:
        """Store small DATA under KEY with an S3 Object Lock retention in compliance mode: nobody,
        the root account included, can delete or overwrite that version before UNTIL. The
        bucket must have Object Lock enabled (at creation)."""
        with _translated(key):
            self._client.put_object(
                Bucket=self.settings.bucket,
                Key=self._key(key),
                Body=data,
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=until,
                ChecksumAlgorithm="SHA256",
                **self._extra(),
            )
        return len(data)

    def _put_single(self, key: str, data: bytes) -> int:
        self._client.put_object(
            Bucket=self.settings.bucket,
            Key=self._key(key),
            Body=data,
            **self._extra(),
            **self._checksum(),
        )
        return len(data)

    def _put_multipart(self, key: str, parts: Iterator[bytes]) -> int:
        bucket, name = self.settings.bucket, self._key(key)
        upload = self._client.create_multipart_upload(
            Bucket=bucket, Key=name, **self._extra(), **self._checksum()
        )
        upload_id = upload["UploadId"]
        try:
            done, size = self._upload_parts(name, upload_id, parts)
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            # Leave no invisible, billed parts behind; the original error matters more.
            with contextlib.suppress(Exception):
                self._client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload_id)
            raise
        log.debug("multipart object stored", key=key, size=size, parts=len(done))
        return size

    def _upload_parts(
        self, name: str, upload_id: str, parts: Iterator[bytes]
    ) -> tuple[list[dict[str, Any]], int]:
        done: list[dict[str, Any]] = []
        size = 0
        for number, data in enumerate(parts, start=1):
            response = self._client.upload_part(
                Bucket=self.settings.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                **self._checksum(),
            )
            part = {"PartNumber": number, "ETag": response["ETag"]}
            if "ChecksumCRC32" in response:
                part["ChecksumCRC32"] = response["ChecksumCRC32"]
            done.append(part)
            size += len(data)
        return done, size

    def get(self, key: str) -> Iterator[bytes]:
        """Return the object's bytes as chunks."""
        return primed(self._stream(key, None))

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Return object bytes [start, end) as chunks."""
        if start < 0 or end < start:
            raise ValueError(f"invalid byte range [{start}, {end})")
        if end == start:
            return iter(())
        return primed(self._stream(key, f"bytes={start}-{end - 1}"))

    def _stream(self, key: str, byte_range: str | None) -> Iterator[bytes]:
        request: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": self._key(key)}
        if byte_range:
            request["Range"] = byte_range
        with _translated(key):
            try:
                body = self._client.get_object(**request)["Body"]
            except Exception as exc:
                if error_code(exc) == "InvalidRange":  # a range past the end reads nothing
                    return
                raise
            with contextlib.closing(body):
                yield from body.iter_chunks(self.settings.chunk_size)

    def head(self, key: str) -> ObjectInfo:
        """Return the object's size."""
        with _translated(key):
            response = self._client.head_object(Bucket=self.settings.bucket, Key=self._key(key))
        return ObjectInfo(key=key, size=int(response["ContentLength"]))

    def exists(self, key: str) -> bool:
        """Return whether an object has this key."""
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object; S3 treats a missing one as success too."""
        with _translated(key):
            self._client.delete_object(Bucket=self.settings.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys that start with `prefix`, page by page."""
        full = self.settings.prefix + prefix
        paginator = self._client.get_paginator("list_objects_v2")
        with _translated(prefix or "/"):
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield str(item["Key"])[len(self.settings.prefix) :]


def _read_up_to(source: Iterator[bytes], limit: int) -> bytes:
    """Return the first `limit` or more bytes of `source`, or all of it if shorter."""
    buffer = bytearray()
    for chunk in source:
        buffer += chunk
        if len(buffer) >= limit:
            break
    return bytes(buffer)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
