"""The `zentrale survey` and `zentrale campaign` commands."""

from __future__ import annotations

import click


@click.group()
def survey() -> None:
    """Survey definitions and answers."""


@click.group()
def campaign() -> None:
    """Outbound survey campaigns: load a CSV of numbers, start, stop, progress."""
