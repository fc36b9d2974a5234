"""The narrow boundary to boto3 shared by the S3 store and the KMS key provider.

boto3 ships no type information, so clients are `Any` here and only here; this module builds
them with explicit timeouts, retries and checksum behaviour, and classifies botocore errors
so each caller can map them to its own exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.config  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]

AwsClient = Any
"""A boto3 client; untyped because boto3 has no stubs in our dependencies."""

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestTimeTooSkewed",
        "KMSInternalException",
        "DependencyTimeoutException",
        "500",
        "502",
        "503",
        "504",
    }
)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How to reach an AWS-protocol service; credentials come from boto3's usual chain."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3
    checksums: bool = True
    access_key_id: str | None = None
    secret_access_key: str | None = None


def make_client(service: str, settings: ClientSettings) -> AwsClient:
    """Return a boto3 client for `service`; the caller closes it."""
    # Some S3-compatible stores reject the CRC checksum headers botocore sends by default.
    checksum_mode = "when_supported" if settings.checksums else "when_required"
    config = botocore.config.Config(
        region_name=settings.region,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        request_checksum_calculation=checksum_mode,
        response_checksum_validation=checksum_mode,
    )
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
    )
    return session.client(service, endpoint_url=settings.endpoint_url, config=config)


def error_code(exc: BaseException) -> str | None:
    """Return the service error code of a botocore ClientError, else None."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return None


def http_status(exc: BaseException) -> int | None:
    """Return the HTTP status of a botocore ClientError, else None."""
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_botocore_error(exc: BaseException) -> bool:
    """Return whether `exc` comes from botocore (client or transport)."""
    return isinstance(exc, botocore.exceptions.ClientError | botocore.exceptions.BotoCoreError)


def is_transient(exc: BaseException) -> bool:
    """Return whether retrying later may succeed: connection trouble, throttling or a 5xx."""
    transport = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
    if isinstance(exc, transport):
        return True
    status = http_status(exc)
    return error_code(exc) in _TRANSIENT_CODES or (status is not None and status >= 500)
