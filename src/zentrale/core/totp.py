"""The second factor: time-based one-time passwords (RFC 6238) and recovery codes.

Codes are computed by `pyotp` (six digits, 30-second steps, SHA-1 as authenticator apps
expect); one step either side is accepted for clock drift, and a step once used is refused
again, so a code seen over a shoulder or in a proxy log cannot be replayed. Ten recovery codes
are made at enrolment and shown once; only their SHA-256 is kept, and each works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
ISSUER = "zentrale"


def new_secret() -> str:
    """Return a new random TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """Return the otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime, after: int | None) -> int | None:
    """Return the time step CODE belongs to (now ± DRIFT_STEPS, later than AFTER), else None."""
    clean = code.strip().replace(" ", "")
    if not (clean.isdigit() and len(clean) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), clean):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Return fresh recovery codes (shown once), like `4f3a9-c1d2e`."""
    return [f"{secrets.token_hex(3)[:5]}-{secrets.token_hex(3)[:5]}" for _ in range(RECOVERY_CODES)]


def hashed(code: str) -> str:
    """Return the SHA-256 kept for a recovery code (case and dashes do not matter)."""
    clean = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(clean.encode()).hexdigest()
