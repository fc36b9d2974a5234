"""The key-wrapping contract shared by every provider, and multi-recipient helpers.

A provider wraps a recording's 32-byte data key into an opaque `WrappedKey` naming the
provider and the key id that wrapped it; the recording id is bound into every wrap so a
wrapped key copied onto another recording's row does not open. Callers keep the list of
wrapped keys (one per recipient) in the database as JSON (`to_json`/`from_json`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from zentrale.base.errors import ZentraleError

log = structlog.get_logger(__name__)

WRAP_LABEL = b"zentrale recording key v1"


class KeyProviderError(ZentraleError):
    """Base of every key provider problem."""

    code = "key-provider"


class UnwrapFailedError(KeyProviderError):
    """A wrapped key did not open: wrong key, other recording, or modified."""

    code = "unwrap-failed"


class NoMatchingKeyError(KeyProviderError):
    """None of the keys at hand wrapped this recording's data key."""

    code = "no-matching-key"


class KeyServiceUnavailableError(KeyProviderError):
    """The key service (KMS) could not be reached; retrying later may succeed."""

    code = "key-service-unavailable"


class InvalidKeyMaterialError(KeyProviderError):
    """A key file or keyring that cannot be used."""

    code = "invalid-key-material"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key wrapped by one provider's key; opaque outside that provider."""

    provider: str
    key_id: str
    blob: bytes

    def __repr__(self) -> str:
        # The blob is sensitive: it is what crypto-shredding deletes.
        return f"WrappedKey(provider={self.provider!r}, key_id={self.key_id!r}, blob=<hidden>)"

    def to_json(self) -> dict[str, str]:
        """Return the JSON object stored in the database row."""
        encoded = base64.b64encode(self.blob).decode()
        return {"provider": self.provider, "key_id": self.key_id, "wrapped": encoded}

    @classmethod
    def from_json(cls, data: Any) -> WrappedKey:
        """Parse one JSON object written by `to_json`."""
        try:
            blob = base64.b64decode(data["wrapped"], validate=True)
            return cls(provider=str(data["provider"]), key_id=str(data["key_id"]), blob=blob)
        except (KeyError, TypeError, binascii.Error) as exc:
            raise InvalidKeyMaterialError(f"not a wrapped key object: {exc}") from None


def wrapped_keys_to_json(keys: Sequence[WrappedKey]) -> list[dict[str, str]]:
    """Return the JSON list for a recording's wrapped keys."""
    return [key.to_json() for key in keys]


def wrapped_keys_from_json(data: Any) -> list[WrappedKey]:
    """Parse the JSON list written by `wrapped_keys_to_json`."""
    if not isinstance(data, list):
        raise InvalidKeyMaterialError("wrapped keys must be a JSON list")
    return [WrappedKey.from_json(item) for item in data]


def binding(provider: str, key_id: str, recording_id: str) -> bytes:
    """Return the associated data that ties a wrap to its provider, key and recording."""
    parts = (provider.encode(), key_id.encode(), recording_id.encode())
    return WRAP_LABEL + b"".join(len(p).to_bytes(2, "big") + p for p in parts)


class KeyWrapper(Protocol):
    """Wraps data keys for one recipient; the recording host needs only these."""

    @property
    def key_id(self) -> str:
        """Return the id of the key that wraps."""
        ...

    def wrap(self, data_key: bytes, recording_id: str) -> WrappedKey:
        """Return `data_key` wrapped for this recipient and bound to `recording_id`."""
        ...


class KeyUnwrapper(Protocol):
    """Unwraps data keys wrapped for one or more keys it holds."""

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        """Return whether this unwrapper holds the key named by `wrapped`."""
        ...

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        """Return the data key, or raise UnwrapFailedError."""
        ...


def wrap_for_all(
    data_key: bytes, recording_id: str, wrappers: Sequence[KeyWrapper]
) -> list[WrappedKey]:
    """Return `data_key` wrapped for every recipient (e.g. the QA key and the escrow key)."""
    if not wrappers:
        raise ValueError("at least one recipient is needed, or the recording is lost")
    return [wrapper.wrap(data_key, recording_id) for wrapper in wrappers]


def unwrap_any(
    wrapped: Sequence[WrappedKey], unwrappers: Sequence[KeyUnwrapper], recording_id: str
) -> bytes:
    """Return the data key from the first wrapped key one of `unwrappers` opens."""
    failures: list[KeyProviderError] = []
    for item in wrapped:
        for unwrapper in unwrappers:
            if not unwrapper.can_unwrap(item):
                continue
            try:
                return unwrapper.unwrap(item, recording_id)
            except (UnwrapFailedError, KeyServiceUnavailableError) as exc:
                log.warning("unwrap failed", key_id=item.key_id, error=type(exc).__name__)
                failures.append(exc)
    raise _no_key_error(wrapped, failures)


def _no_key_error(wrapped: Sequence[WrappedKey], failures: list[KeyProviderError]) -> Exception:
    ids = ", ".join(f"{item.provider}:{item.key_id}" for item in wrapped) or "none"
    if any(isinstance(exc, KeyServiceUnavailableError) for exc in failures):
        return KeyServiceUnavailableError(f"key service unavailable for recording keys ({ids})")
    if failures:
        return UnwrapFailedError(f"no wrapped key opened with the keys given (wrapped by {ids})")
    return NoMatchingKeyError(f"none of the keys given wrapped this recording (wrapped by {ids})")
