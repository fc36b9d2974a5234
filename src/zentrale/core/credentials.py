"""Random bearer credentials (API tokens, session ids, CSRF tokens) and how they are kept.

Only a SHA-256 of a token or session id is stored: they carry 256 random bits, so a plain
hash is enough and a database leak does not hand out working credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "zq_"  # noqa: S105 (a prefix, not a secret)


def new_token() -> str:
    """Return a fresh API token (`zq_` + 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    """Return a fresh browser session id."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """Return a fresh CSRF token."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Return the hex SHA-256 under which SECRET is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sign(key: bytes, message: str) -> str:
    """Return the hex HMAC-SHA256 of MESSAGE under KEY."""
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
