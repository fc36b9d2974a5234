"""The `zentrale` command: one entry point for operators, supervisors and QA staff.

Global options pick the settings file and the log format; every subcommand loads the settings
the same way, so a bad file stops every command with the same precise message.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from zentrale import __version__
from zentrale.cli.calls import agents, call
from zentrale.cli.context import Commands
from zentrale.cli.customers import customers
from zentrale.cli.db import db
from zentrale.cli.keys import keys
from zentrale.cli.knowledge import knowledge
from zentrale.cli.ops import status
from zentrale.cli.phones import phones
from zentrale.cli.privacy import hold, retention, subject
from zentrale.cli.prompts import prompts
from zentrale.cli.recordings import recordings
from zentrale.cli.routing import routing
from zentrale.cli.stats import report
from zentrale.cli.surveys import campaign, survey
from zentrale.cli.users import api, audit, users
from zentrale.config.logging import configure_logging
from zentrale.config.settings import DEFAULT_FILE, Settings, load_settings


@dataclass
class Context:
    """What the global options decided, for the subcommands."""

    settings_file: Path | None
    log_format: str | None

    def settings(self) -> Settings:
        """Load the settings (file + environment) and set up logging, or exit with the problems."""
        settings = load_settings(self.settings_file)
        fmt: Any = self.log_format or settings.logging.format
        configure_logging(
            fmt, settings.logging.level, settings.logging.mask_numbers, settings.telephony.region
        )
        return settings


def _default_settings_file() -> Path | None:
    explicit = os.environ.get("ZENTRALE_CONFIG")
    if explicit:
        return Path(explicit)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zentrale")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (default: $ZENTRALE_CONFIG, else "
    "config/zentrale.yaml if present, else built-in defaults).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default=None,
    help="Override logging.format from the settings.",
)
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, log_format: str | None) -> None:
    """zentrale: telephony integration and call recording for call centres (Asterisk ARI)."""
    ctx.obj = Context(config_file or _default_settings_file(), log_format)


@main.command()
@click.option(
    "--calls",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="How many simulated customers call in.",
)
@click.option(
    "--now",
    is_flag=True,
    help="Route by the real clock (default: Monday 10:00 in Antalya, all open).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then keep the QA pages up on the demo's calls, with a demo sign-in (Ctrl-C stops).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8800,
    show_default=True,
    help="With --serve: the port of the QA pages on 127.0.0.1 (0: any free one).",
)
@click.pass_obj
def demo(obj: Context, calls: int, now: bool, serve: bool, port: int) -> None:
    """Run the main job on the embedded defaults: sandbox Asterisk, simulated calls."""
    from zentrale.demo import OFFICE_HOURS, run_demo

    settings = obj.settings()
    try:
        done = asyncio.run(run_demo(settings, calls, click.echo, at=None if now else OFFICE_HOURS))
    except TimeoutError as exc:
        raise click.ClickException(str(exc) or "the demo calls did not finish in time") from None
    connected = sum(1 for call in done if call.agent_answered_at is not None)
    click.echo(
        f"{len(done)} calls, {connected} connected to an agent; the demo's database, "
        f"prompts and encrypted recordings are in {settings.state_dir / 'demo'}"
    )
    if not serve:
        click.echo("to hear them in the browser, run the demo with --serve")
        return
    asyncio.run(_serve_demo(settings, port))


async def _serve_demo(settings: Settings, port: int) -> None:
    from zentrale.demo import serve_demo

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_demo(settings, click.echo, stop, port=port)


@main.command()
@click.option(
    "--drain-seconds",
    type=click.FloatRange(0, 3600),
    default=60.0,
    show_default=True,
    help="On SIGTERM, how long calls in progress may go on before the daemon stops.",
)
@click.pass_obj
def run(obj: Context, drain_seconds: float) -> None:
    """Run the daemon: ARI call flows, recording pipeline and HTTP server (SIGTERM drains)."""
    from zentrale.service import serve

    settings = obj.settings()
    try:
        settings.ari.secret()
        asyncio.run(serve(settings, drain_seconds))
    except asyncio.CancelledError:
        sys.exit(1)


@main.group()
def config() -> None:
    """Check and show settings."""


@config.command("check")
@click.pass_obj
def config_check(obj: Context) -> None:
    """Validate the settings file and environment; print the effective settings (no secrets)."""
    settings = obj.settings()
    source = obj.settings_file or "built-in defaults"
    click.echo(f"settings OK ({source})")
    for line in _flatten(settings.model_dump(mode="json")):
        click.echo("  " + line)


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for key, value in tree.items():
        if isinstance(value, dict):
            lines += _flatten(value, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key} = {value}")
    return lines


@main.group()
def sandbox() -> None:
    """Run the sandbox Asterisk by hand (for trying zentrale out and for development)."""


@sandbox.command("up")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="ARI HTTP port (default: sandbox.http_port from the settings).",
)
@click.pass_obj
def sandbox_up(obj: Context, port: int | None) -> None:
    """Build (first time) and start the sandbox; print how to connect to it."""
    from zentrale.sandbox.handmade import start_by_hand

    settings = obj.settings()
    for line in start_by_hand(settings, port):
        click.echo(line)


@sandbox.command("down")
@click.pass_obj
def sandbox_down(obj: Context) -> None:
    """Stop the sandbox started with `zentrale sandbox up`."""
    from zentrale.sandbox.handmade import stop_by_hand

    click.echo(stop_by_hand(obj.settings()))


@sandbox.command("status")
@click.pass_obj
def sandbox_status(obj: Context) -> None:
    """Say whether the sandbox runs, and where."""
    from zentrale.sandbox.handmade import status_by_hand

    running, text = status_by_hand(obj.settings())
    click.echo(text)
    sys.exit(0 if running else 3)


main.add_command(routing)
main.add_command(knowledge)
main.add_command(db)
main.add_command(recordings)
main.add_command(prompts)
main.add_command(users)
main.add_command(api)
main.add_command(audit)
main.add_command(call)
main.add_command(agents)
main.add_command(phones)
main.add_command(retention)
main.add_command(hold)
main.add_command(subject)
main.add_command(keys)
main.add_command(survey)
main.add_command(campaign)
main.add_command(customers)
main.add_command(report)
main.add_command(status)
