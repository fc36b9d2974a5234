"""The `public` key provider: X25519 + HKDF-SHA256 + AES-256-GCM, in the manner of HPKE.

The recording host holds only the recipient's public key, so nothing it stores can open a
recording. cryptography has no HPKE module in the versions we support, so this composes its
primitives the way HPKE's base mode (DHKEM(X25519, HKDF-SHA256), AES-256-GCM) and age do: an
ephemeral X25519 key per wrap; the wrapping key is HKDF-SHA256 over the shared secret with
`ephemeral public || recipient public` as salt; the blob is `ephemeral public (32) ||
AES-256-GCM(wrapping key, zero nonce, data key, binding)`. The zero nonce is safe because every
wrapping key is used once. Keys are PEM files; a key id is `x25519:` and 16 hex digits of the
SHA-256 of the raw public key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zentrale.recording.keys.base import (
    InvalidKeyMaterialError,
    UnwrapFailedError,
    WrappedKey,
    binding,
)

PROVIDER = "public"
_INFO = b"zentrale recording key wrap v1 x25519-hkdf-sha256-aes256gcm"
_ZERO_NONCE = bytes(12)
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: X25519PublicKey) -> str:
    """Return the key id derived from a public key."""
    return "x25519:" + hashlib.sha256(public_key.public_bytes(*_RAW)).hexdigest()[:16]


def _wrapping_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO)
    return AESGCM(hkdf.derive(shared))


class PublicKeyRecipient:
    """Wraps data keys for the holder of an X25519 private key."""

    def __init__(self, public_key: X25519PublicKey) -> None:
        self._public = public_key
        self._key_id = key_id_of(public_key)

    @property
    def key_id(self) -> str:
        """Return the recipient's key id."""
        return self._key_id

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKeyRecipient:
        """Return the recipient for a PEM public key."""
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, X25519PublicKey):
            raise InvalidKeyMaterialError("the public key is not an X25519 key")
        return cls(key)

    def wrap(self, data_key: bytes, recording_id: str) -> WrappedKey:
        """Return `data_key` wrapped for this recipient."""
        ephemeral_key = X25519PrivateKey.generate()
        ephemeral = ephemeral_key.public_key().public_bytes(*_RAW)
        recipient = self._public.public_bytes(*_RAW)
        aead = _wrapping_key(ephemeral_key.exchange(self._public), ephemeral, recipient)
        sealed = aead.encrypt(_ZERO_NONCE, data_key, binding(PROVIDER, self.key_id, recording_id))
        return WrappedKey(provider=PROVIDER, key_id=self.key_id, blob=ephemeral + sealed)


class PrivateKeyIdentity:
    """Unwraps data keys wrapped for its X25519 private key (QA or escrow side)."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        self.key_id = key_id_of(private_key.public_key())

    @classmethod
    def generate(cls) -> PrivateKeyIdentity:
        """Return an identity with a fresh key pair."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> PrivateKeyIdentity:
        """Return the identity for a PEM (PKCS#8) private key."""
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, X25519PrivateKey):
            raise InvalidKeyMaterialError("the private key is not an X25519 key")
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> PrivateKeyIdentity:
        """Read a PEM private key file."""
        return cls.from_pem(path.read_bytes())

    def private_pem(self) -> bytes:
        """Return the private key as unencrypted PKCS#8 PEM."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        """Return the public key as SubjectPublicKeyInfo PEM."""
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def recipient(self) -> PublicKeyRecipient:
        """Return the wrapping side of this identity."""
        return PublicKeyRecipient(self._private.public_key())

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        """Return whether `wrapped` names this identity's key."""
        return wrapped.provider == PROVIDER and wrapped.key_id == self.key_id

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        """Return the data key, or raise UnwrapFailedError."""
        if not self.can_unwrap(wrapped) or len(wrapped.blob) < 32 + 16:
            raise UnwrapFailedError(f"wrapped key for {wrapped.key_id!r} is not for this identity")
        ephemeral, sealed = wrapped.blob[:32], wrapped.blob[32:]
        recipient = self._private.public_key().public_bytes(*_RAW)
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            aead = _wrapping_key(shared, ephemeral, recipient)
            return aead.decrypt(_ZERO_NONCE, sealed, binding(PROVIDER, self.key_id, recording_id))
        except (InvalidTag, ValueError):
            raise UnwrapFailedError(f"wrapped key for {wrapped.key_id!r} did not open") from None
