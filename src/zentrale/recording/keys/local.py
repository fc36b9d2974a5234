"""The `local` key provider: a keyring file of AES-256 key-encryption keys, for development.

The keyring is JSON, `{"version": 1, "primary": "<id>", "keys": {"<id>": "<base64 32 bytes>"},
"created": {"<id>": "<ISO time>"}}` (`created` optional); new recordings are wrapped with the
primary key, and any key still in the ring unwraps. Rotation adds a key and makes it primary
(`with_new_primary`); retirement drops one (`without`); `replace` rewrites the file atomically. A
wrap is `nonce (12) || AES-256-GCM(kek, data key, binding)`. In production the recording host
should hold no secret that opens recordings: use `public` or `kms` there.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.recording.keys.base import (
    InvalidKeyMaterialError,
    UnwrapFailedError,
    WrappedKey,
    binding,
)

PROVIDER = "local"
_NONCE_SIZE = 12


@dataclass(frozen=True, slots=True)
class Keyring:
    """Named key-encryption keys and the one new recordings are wrapped with."""

    primary: str
    keys: Mapping[str, bytes] = field(repr=False)
    created: Mapping[str, str] = field(default_factory=dict)
    """When each key was made (ISO 8601, UTC), for keys made since the ring recorded it."""

    def __post_init__(self) -> None:
        if self.primary not in self.keys:
            raise InvalidKeyMaterialError(
                f"keyring primary key {self.primary!r} is not in the ring"
            )
        if any(len(key) != 32 for key in self.keys.values()):
            raise InvalidKeyMaterialError("every keyring key must be 32 bytes")

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        """Return a keyring holding one fresh random key."""
        key_id = key_id or _new_key_id()
        key = AESGCM.generate_key(bit_length=256)
        return cls(primary=key_id, keys={key_id: key}, created={key_id: _now()})

    def with_new_primary(self, key_id: str | None = None) -> Keyring:
        """Return this ring plus a fresh key, which becomes the primary."""
        key_id = key_id or _new_key_id()
        if key_id in self.keys:
            raise InvalidKeyMaterialError(f"keyring already holds a key {key_id!r}")
        keys = {**self.keys, key_id: AESGCM.generate_key(bit_length=256)}
        return Keyring(primary=key_id, keys=keys, created={**self.created, key_id: _now()})

    def without(self, key_id: str) -> Keyring:
        """Return this ring without KEY_ID (never the primary: new recordings need it)."""
        if key_id == self.primary:
            raise InvalidKeyMaterialError(f"key {key_id!r} is the keyring's primary key")
        keys = {k: v for k, v in self.keys.items() if k != key_id}
        created = {k: v for k, v in self.created.items() if k != key_id}
        return Keyring(primary=self.primary, keys=keys, created=created)

    def to_json(self) -> str:
        """Return the keyring file text."""
        keys = {key_id: base64.b64encode(key).decode() for key_id, key in self.keys.items()}
        data: dict[str, Any] = {"version": 1, "primary": self.primary, "keys": keys}
        if self.created:
            data["created"] = dict(self.created)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse a keyring file text."""
        try:
            data: Any = json.loads(text)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            created = {str(k): str(v) for k, v in data.get("created", {}).items()}
            return cls(primary=str(data["primary"]), keys=keys, created=created)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise InvalidKeyMaterialError(f"not a keyring: {exc}") from None

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read a keyring file."""
        return cls.from_json(path.read_text())

    def save(self, path: Path) -> None:
        """Write the keyring to a new file readable by its owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(self.to_json())

    def replace(self, path: Path) -> None:
        """Write the keyring over PATH atomically: readers see the old ring or the new one.

        The old file's blocks are not overwritten (a file system may keep copies anyway), so
        a key dropped here is gone from the ring, not necessarily from the disk or backups.
        """
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(self.to_json())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _new_key_id() -> str:
    return f"local-{secrets.token_hex(4)}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class LocalKeyProvider:
    """Wraps with the keyring's primary key and unwraps with any key in the ring."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @property
    def key_id(self) -> str:
        """Return the id of the primary key."""
        return self._keyring.primary

    def wrap(self, data_key: bytes, recording_id: str) -> WrappedKey:
        """Return `data_key` wrapped with the primary key."""
        aad = binding(PROVIDER, self.key_id, recording_id)
        nonce = os.urandom(_NONCE_SIZE)
        sealed = AESGCM(self._keyring.keys[self.key_id]).encrypt(nonce, data_key, aad)
        return WrappedKey(provider=PROVIDER, key_id=self.key_id, blob=nonce + sealed)

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        """Return whether the ring holds the key that wrapped `wrapped`."""
        return wrapped.provider == PROVIDER and wrapped.key_id in self._keyring.keys

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        """Return the data key, or raise UnwrapFailedError."""
        kek = self._keyring.keys.get(wrapped.key_id)
        if kek is None or wrapped.provider != PROVIDER:
            raise UnwrapFailedError(f"key {wrapped.key_id!r} is not in this keyring")
        aad = binding(PROVIDER, wrapped.key_id, recording_id)
        nonce, sealed = wrapped.blob[:_NONCE_SIZE], wrapped.blob[_NONCE_SIZE:]
        try:
            return AESGCM(kek).decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError):
            raise UnwrapFailedError(f"wrapped key for {wrapped.key_id!r} did not open") from None
