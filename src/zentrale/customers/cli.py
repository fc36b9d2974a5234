"""The `zentrale customers` commands."""

from __future__ import annotations

import click


@click.group()
def customers() -> None:
    """Customer records: import, show, edit."""
