"""The settings a subcommand runs with: the root command's (--config, --log-format) or the
environment's, with a settings error turned into a click error that names file and line."""

from __future__ import annotations

import click

from zentrale.config.settings import Settings, SettingsError, load_settings


def cli_settings(ctx: click.Context) -> Settings:
    """Return the settings of the `zentrale` command CTX belongs to (or load them)."""
    obj = ctx.find_root().obj
    if obj is not None and hasattr(obj, "settings"):
        return obj.settings()  # type: ignore[no-any-return]
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
