"""`zentrale db`: upgrade, inspect and downgrade the metadata database's schema.

The edge of the db package for operators: it takes the URL from `--url`, else from the
settings (`--config` / ZENTRALE_CONFIG, then ZENTRALE_DATABASE__URL) as every other command
does, prints it only with the password hidden, and turns failures into exit code 1.
Downgrading drops tables holding wrapped recording keys, so it asks first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import asyncpg
import click
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from zentrale import migrations as migrate
from zentrale.cli.context import Commands, cli_settings
from zentrale.db.engine import DEFAULT_URL, safe_url

T = TypeVar("T")
URL = click.option(
    "--url",
    default=None,
    help=(
        "Database URL, e.g. postgresql+asyncpg://user:pw@host/zentrale "
        "(default: database.url of the settings, from --config or ZENTRALE_DATABASE__URL, "
        f"else {DEFAULT_URL})."
    ),
)


def _url(given: str | None) -> str:
    if given:
        return given
    return cli_settings(click.get_current_context()).database.url.get_secret_value()


@click.group(cls=Commands, name="db")
def db() -> None:
    """Manage the database schema (SQLite or PostgreSQL)."""


@db.command()
@URL
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(url: str | None, revision: str) -> None:
    """Migrate the database up to the newest schema (or --revision)."""
    url = _url(url)
    _guarded(url, lambda: migrate.upgrade(url, revision))
    click.echo(f"{safe_url(url)}: upgraded to {_current(url)}")


@db.command()
@URL
def current(url: str | None) -> None:
    """Show the schema revision of the database and the newest one available."""
    url = _url(url)
    revision = _current(url)
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"behind (head is {head})"
    click.echo(f"{safe_url(url)}: revision {revision}, {state}")


@db.command()
@click.argument("revision")
@URL
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def downgrade(url: str | None, revision: str, yes: bool) -> None:
    """Migrate the database down to REVISION (`base` drops every table and its data)."""
    url = _url(url)
    if not yes:
        prompt = f"Downgrade {safe_url(url)} to {revision}? Data in dropped tables is lost"
        click.confirm(prompt, abort=True)
    _guarded(url, lambda: migrate.downgrade(url, revision))
    click.echo(f"{safe_url(url)}: downgraded to {_current(url)}")


def _current(url: str) -> str:
    revision = _guarded(url, lambda: migrate.current(url))
    return revision or "none (empty database)"


def _guarded(url: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise click.ClickException(_describe(exc, url)) from None


def _describe(exc: BaseException, url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Some SQLAlchemy versions quote the whole unparsable URL, password included.
        return "cannot parse the database URL (expected dialect+driver://user:password@host/db)"
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    if parsed.password:
        first = first.replace(str(parsed.password), "***")
    return f"{safe_url(parsed)}: {first}"
