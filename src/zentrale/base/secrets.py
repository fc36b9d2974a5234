"""Secrets zentrale makes for itself on first start and keeps in the state directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr


def kept_secret(state_dir: Path, name: str, given: SecretStr | None = None) -> SecretStr:
    """Return GIVEN, else the secret kept in STATE_DIR/secrets/NAME (made once, mode 0600)."""
    if given is not None:
        return given
    path = state_dir / "secrets" / name
    if path.is_file():
        return SecretStr(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return SecretStr(value)
