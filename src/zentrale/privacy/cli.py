"""The `zentrale retention`, `zentrale hold` and `zentrale subject` commands."""

from __future__ import annotations

import click


@click.group()
def retention() -> None:
    """Retention rules and the purge (crypto-shredding, destruction records)."""


@click.group()
def hold() -> None:
    """Legal holds on calls, recordings, numbers and departments."""


@click.group()
def subject() -> None:
    """Data-subject requests: export and erase everything about a person."""
