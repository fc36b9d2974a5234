"""The `kms` key provider: data keys wrapped by AWS KMS (or a KMS-protocol service).

Wrapping calls KMS Encrypt with the configured key and an encryption context naming the
recording, so the wrapped key only opens for that recording and every use appears in the
audit log with its recording id. The wrapped key's id is the key ARN KMS reports, which
stays valid when an alias later points elsewhere. The recording host needs only
`kms:Encrypt`; QA playback needs `kms:Decrypt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zentrale.recording.aws import AwsClient, error_code, is_botocore_error, is_transient
from zentrale.recording.keys.base import (
    KeyProviderError,
    KeyServiceUnavailableError,
    UnwrapFailedError,
    WrappedKey,
)

PROVIDER = "kms"


def encryption_context(recording_id: str) -> dict[str, str]:
    """Return the KMS encryption context bound to a recording's wrapped key."""
    return {"zentrale:purpose": "recording-data-key", "zentrale:recording-id": recording_id}


@dataclass(frozen=True, slots=True)
class KmsKeyInfo:
    """What KMS says about a key: its ARN, when it was made, and its state."""

    arn: str
    created: str
    state: str


class KmsKeyProvider:
    """Wraps with one KMS key; unwraps any KMS-wrapped key the client may decrypt."""

    def __init__(self, client: AwsClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        """Return the configured key id, ARN or alias."""
        return self._key_id

    def wrap(self, data_key: bytes, recording_id: str) -> WrappedKey:
        """Return `data_key` encrypted by KMS under the configured key."""
        response = self._call(
            "encrypt",
            KeyId=self._key_id,
            Plaintext=data_key,
            EncryptionContext=encryption_context(recording_id),
        )
        arn = str(response.get("KeyId") or self._key_id)
        return WrappedKey(provider=PROVIDER, key_id=arn, blob=bytes(response["CiphertextBlob"]))

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        """Return whether `wrapped` was wrapped by KMS."""
        return wrapped.provider == PROVIDER

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        """Return the data key decrypted by KMS, or raise UnwrapFailedError."""
        response = self._call(
            "decrypt",
            CiphertextBlob=wrapped.blob,
            KeyId=wrapped.key_id,
            EncryptionContext=encryption_context(recording_id),
        )
        return bytes(response["Plaintext"])

    def describe(self, key_id: str | None = None) -> KmsKeyInfo:
        """Return KMS's facts about KEY_ID (default: the configured key, alias resolved)."""
        meta = self._call("describe_key", KeyId=key_id or self._key_id)["KeyMetadata"]
        created = meta.get("CreationDate")
        when = created.isoformat(timespec="seconds") if created is not None else "-"
        return KmsKeyInfo(arn=str(meta["Arn"]), created=when, state=str(meta.get("KeyState")))

    def schedule_deletion(self, key_id: str, pending_days: int) -> str:
        """Ask KMS to delete KEY_ID after PENDING_DAYS (7 to 30); return the deletion date."""
        # The bare key id: moto (unlike KMS) accepts no ARN here; KMS accepts both.
        bare = self._call("describe_key", KeyId=key_id)["KeyMetadata"]["KeyId"]
        response = self._call("schedule_key_deletion", KeyId=bare, PendingWindowInDays=pending_days)
        when = response.get("DeletionDate")
        return when.isoformat(timespec="seconds") if when is not None else "-"

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**request)
        except Exception as exc:
            if not is_botocore_error(exc):
                raise
            raise _translate(exc, operation) from exc
        return response


def _translate(exc: Exception, operation: str) -> KeyProviderError:
    if is_transient(exc):
        return KeyServiceUnavailableError(
            f"KMS {operation} failed transiently: {type(exc).__name__}"
        )
    if operation == "decrypt":
        return UnwrapFailedError(f"KMS refused to unwrap the key: {error_code(exc) or exc}")
    return KeyProviderError(f"KMS {operation} failed: {error_code(exc) or exc}")
