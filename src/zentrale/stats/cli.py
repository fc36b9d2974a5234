"""The `zentrale report` command."""

from __future__ import annotations

import click


@click.group()
def report() -> None:
    """Statistics per department, agent and period."""
