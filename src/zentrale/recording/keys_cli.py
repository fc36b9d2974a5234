"""The `zentrale keys` commands: status, rotate, retire."""

from __future__ import annotations

import click


@click.group()
def keys() -> None:
    """Encryption keys: what each protects, rotation and retirement."""
