"""The `zentrale status` command."""

from __future__ import annotations

import click


@click.group()
def status() -> None:
    """One screen: connection, rules version, queues, backlog, last errors."""
