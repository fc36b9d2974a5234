"""The `zentrale phones` commands: agents' SIP phones created from zentrale.

`add` keeps a phone with a generated password (shown once) and creates its PJSIP endpoint,
auth and aor in the running Asterisk through ARI (no restart); `password` sets a new one;
`remove` deletes it; `list` shows the phones and whether each is registered. When Asterisk
cannot be reached the phone is still kept and the daemon creates it when it next connects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import click

from zentrale.cli.context import Commands, cli_settings
from zentrale.config.settings import Settings
from zentrale.telephony.ari import AriClient, AriError, AriNotFoundError
from zentrale.telephony.phones import (
    CODECS,
    DEFAULT_CODECS,
    Phone,
    PhoneBook,
    check_phone,
    push_phone,
    withdraw_phone,
)

Job = Callable[[AriClient], Awaitable[str]]


@click.group(cls=Commands)
def phones() -> None:
    """Agents' SIP phones (PJSIP endpoints created in Asterisk from zentrale)."""


UNREACHED = "Asterisk not reached or refused: the daemon pushes the phones when it connects"


def _asterisk(settings: Settings, job: Job) -> str:
    """Run JOB with an ARI client on the configured Asterisk; UNREACHED if that failed."""
    from zentrale.daemon import ari_credentials

    async def main() -> str:
        ari = AriClient(ari_credentials(settings))  # REST only: never started
        try:
            return await job(ari)
        finally:
            await ari.rest.aclose()

    try:
        return asyncio.run(main())
    except AriError:
        return UNREACHED


def _shown_once(name: str, password: str) -> None:
    click.echo(f"username: {name}")
    click.echo(f"password: {password}")
    click.echo("(shown once: enter it in the phone now; `zentrale phones password` sets a new one)")


@phones.command("add")
@click.argument("name")
@click.option(
    "--codec",
    "codecs",
    multiple=True,
    type=click.Choice(CODECS),
    help=f"May repeat, in order of preference (default: {','.join(DEFAULT_CODECS)}).",
)
@click.option("--transport", default="transport-udp", show_default=True)
@click.pass_context
def add(ctx: click.Context, name: str, codecs: tuple[str, ...], transport: str) -> None:
    """Create phone NAME (endpoint PJSIP/NAME, SIP username NAME, a generated password)."""
    settings = cli_settings(ctx)
    phone = check_phone(Phone(name, codecs or DEFAULT_CODECS, transport))
    book = PhoneBook(settings.state_dir)
    password = book.add(phone)

    async def push(ari: AriClient) -> str:
        await push_phone(ari.asterisk, phone, password)
        return "created in Asterisk"

    click.echo(f"phone {phone.endpoint} kept; {_asterisk(settings, push)}")
    _shown_once(name, password)


@phones.command("password")
@click.argument("name")
@click.pass_context
def password(ctx: click.Context, name: str) -> None:
    """Give phone NAME a new generated password (the old one stops working)."""
    settings = cli_settings(ctx)
    book = PhoneBook(settings.state_dir)
    secret = book.renew(name)
    (phone,) = [p for p in book.phones() if p.name == name]

    async def push(ari: AriClient) -> str:
        await push_phone(ari.asterisk, phone, secret)
        return "changed in Asterisk"

    click.echo(f"phone {phone.endpoint}: new password; {_asterisk(settings, push)}")
    _shown_once(name, secret)


@phones.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Delete phone NAME (from zentrale and from Asterisk)."""
    settings = cli_settings(ctx)
    phone = PhoneBook(settings.state_dir).remove(name)

    async def withdraw(ari: AriClient) -> str:
        await withdraw_phone(ari.asterisk, name)
        return "deleted in Asterisk"

    click.echo(f"phone {phone.endpoint} removed; {_asterisk(settings, withdraw)}")


@phones.command("list")
@click.pass_context
def list_phones(ctx: click.Context) -> None:
    """List the phones zentrale keeps and whether each is registered now."""
    settings = cli_settings(ctx)
    kept = PhoneBook(settings.state_dir).phones()
    if not kept:
        click.echo("no phones (add one: zentrale phones add 8001)")
        return

    async def states(ari: AriClient) -> str:
        found = []
        for phone in kept:
            try:
                endpoint = await ari.endpoints.get("PJSIP", phone.name)
            except AriNotFoundError:
                found.append("not in Asterisk yet")
                continue
            found.append(endpoint.state or "unknown")
        return "\n".join(found)

    answer = _asterisk(settings, states)
    reached = answer != UNREACHED
    for index, phone in enumerate(kept):
        state = answer.splitlines()[index] if reached else "?"
        click.echo(f"{phone.endpoint}\t{','.join(phone.codecs)}\t{phone.transport}\t{state}")
    if not reached:
        click.echo(UNREACHED)
