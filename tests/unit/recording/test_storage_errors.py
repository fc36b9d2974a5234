"""How backend failures map onto our storage exceptions."""

from __future__ import annotations

import errno
from pathlib import Path

import botocore.exceptions
import pytest

from zentrale.recording.storage.base import (
    ObjectNotFoundError,
    StorageError,
    StorageFullError,
    StorageUnavailableError,
)
from zentrale.recording.storage.local import storage_error
from zentrale.recording.storage.s3 import _translate


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectNotFoundError),
        ("404", 404, ObjectNotFoundError),
        ("SlowDown", 503, StorageUnavailableError),
        ("InternalError", 500, StorageUnavailableError),
        ("SomethingNew", 502, StorageUnavailableError),
        ("XMinioStorageFull", 507, StorageFullError),
        ("QuotaExceeded", 403, StorageFullError),
        ("AccessDenied", 403, StorageError),
    ],
)
def test_s3_client_errors(code: str, status: int, expected: type[StorageError]) -> None:
    error = _translate(client_error(code, status), "rec-1")
    assert type(error) is expected
    assert "rec-1" in str(error)


def test_s3_connection_errors_are_retriable() -> None:
    exc = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert type(_translate(exc, "rec-1")) is StorageUnavailableError


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (errno.ENOSPC, StorageFullError),
        (errno.EDQUOT, StorageFullError),
        (errno.EIO, StorageUnavailableError),
        (errno.EACCES, StorageError),
    ],
)
def test_local_os_errors(number: int, expected: type[StorageError]) -> None:
    error = storage_error(OSError(number, "boom"), Path("/srv/rec/ab/cd/rec-1"))
    assert type(error) is expected
    assert "/srv/rec/ab/cd/rec-1" in str(error)
