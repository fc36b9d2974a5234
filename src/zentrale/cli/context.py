"""What subcommands share: the settings they run with (the root command's --config and
--log-format, or the environment's; a settings error becomes a click error naming file and
line), and running their work on the migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from zentrale.config.settings import Settings, SettingsError, load_settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine

T = TypeVar("T")


def cli_settings(ctx: click.Context) -> Settings:
    """Return the settings of the `zentrale` command CTX belongs to (or load them)."""
    obj = ctx.find_root().obj
    if obj is not None and hasattr(obj, "settings"):
        return obj.settings()  # type: ignore[no-any-return]
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def run_with_database(
    settings: Settings,
    work: Callable[[Database], Awaitable[T]],
    errors: tuple[type[Exception], ...] = (),
) -> T:
    """Run WORK on the settings' database (migrated first); ERRORS become click errors."""

    async def main() -> T:
        async with Database.open(settings.database.url) as db:
            await upgrade_engine(db.engine)
            return await work(db)

    try:
        return asyncio.run(main())
    except errors as exc:
        raise click.ClickException(str(exc)) from None
