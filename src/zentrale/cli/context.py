"""What commands share: the command classes that map zentrale's errors in one place, the
settings they run with (the root command's --config and --log-format, or the environment's),
and running their work on the migrated database.

Every error zentrale raises on purpose is a `ZentraleError` whose message names what is wrong
and where; `Commands` (the class of every command group) and `Command` turn one escaping a
command into click's `Error: ...` and exit status 1, so no command translates them itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from zentrale.base.errors import ZentraleError
from zentrale.config.settings import Settings, load_settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine

T = TypeVar("T")


def mapped(invoke: Callable[[], T]) -> T:
    """Run INVOKE; a ZentraleError escaping it becomes click's `Error: ...` and exit status 1."""
    try:
        return invoke()
    except ZentraleError as exc:
        raise click.ClickException(str(exc)) from None


class Commands(click.Group):
    """A command group whose subcommands' `ZentraleError`s end as click errors (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand with zentrale's errors mapped."""
        return mapped(lambda: super(Commands, self).invoke(ctx))


class Command(click.Command):
    """A single command whose `ZentraleError`s end as click errors (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command with zentrale's errors mapped."""
        return mapped(lambda: super(Command, self).invoke(ctx))


def cli_settings(ctx: click.Context) -> Settings:
    """Return the settings of the `zentrale` command CTX belongs to (or load them)."""
    obj = ctx.find_root().obj
    if obj is not None and hasattr(obj, "settings"):
        return obj.settings()  # type: ignore[no-any-return]
    return load_settings()


def run_with_database(
    settings: Settings,
    work: Callable[[Database], Awaitable[T]],
    errors: tuple[type[Exception], ...] = (),
) -> T:
    """Run WORK on the settings' database (migrated first); ERRORS (exceptions of other
    libraries that mean bad input) become click errors, as ZentraleErrors do anyway."""

    async def main() -> T:
        async with Database.open(settings.database.url) as db:
            await upgrade_engine(db.engine)
            return await work(db)

    try:
        return asyncio.run(main())
    except errors as exc:
        raise click.ClickException(str(exc)) from None
