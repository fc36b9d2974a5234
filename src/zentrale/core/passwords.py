"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal user names.
_DUMMY = _hasher.hash("zentrale-dummy-password")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    """Return the Argon2id hash of PASSWORD (refusing passwords under MIN_LENGTH)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Tell whether PASSWORD matches STORED (None: compare against a dummy, return False)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
