"""`zentrale users`, `zentrale api` and `zentrale audit`: the QA service for operators.

Users are created here (passwords read from a prompt or stdin, never from arguments), API
tokens are printed once, `api serve` runs the QA service alone with uvicorn, and
`audit verify` recomputes the audit log's hash chain (exit 1 if it is broken).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zentrale.base.clock import utcnow
from zentrale.cli.context import Commands, run_with_database
from zentrale.cli.context import cli_settings as _settings
from zentrale.config.settings import Settings
from zentrale.core import anchor
from zentrale.core import audit as audit_log
from zentrale.core.models import Role
from zentrale.core.users import Enrolment, NewUser, SecondFactors, UserStore
from zentrale.db.session import Database
from zentrale.recording.setup import object_store

T = TypeVar("T")


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    return run_with_database(settings, work, (ValueError,))


@click.group(cls=Commands, name="users")
def users() -> None:
    """Manage the QA service's users and their API tokens."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Name shown in the pages.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--department", "departments", multiple=True, help="May repeat.")
@click.option(
    "--agent-endpoint",
    default=None,
    help="The user's phone, e.g. PJSIP/1001 (agents; supervisors listen on it).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def add(
    ctx: click.Context,
    username: str,
    display_name: str,
    role: str,
    departments: tuple[str, ...],
    agent_endpoint: str | None,
    password_stdin: bool,
) -> None:
    """Create a user (the password is asked for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    new = NewUser(
        username=username,
        display_name=display_name,
        password=password,
        role=Role(role),
        departments=departments,
        agent_endpoint=agent_endpoint,
    )
    user = _run(_settings(ctx), lambda db: UserStore(db).add(new))
    click.echo(f"user {user.username} ({user.role.value}) created")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_context
def disable(ctx: click.Context, username: str, enable: bool) -> None:
    """Disable a user (their sessions end, their tokens stop working)."""
    _run(_settings(ctx), lambda db: UserStore(db).set_disabled(username, not enable))
    click.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@users.command("token")
@click.argument("username")
@click.option("--name", "token_name", required=True, help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Default: api.token_days.")
@click.pass_context
def token(ctx: click.Context, username: str, token_name: str, days: int | None) -> None:
    """Issue a personal API token for USERNAME and print it (shown only this once)."""
    settings = _settings(ctx)

    async def issue(db: Database) -> str:
        store = UserStore(db)
        user = await store.by_name(username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        issued = await store.issue_token(user.id, token_name, days or settings.api.token_days)
        return issued.secret

    click.echo(_run(settings, issue))


@users.command("totp")
@click.argument("username")
@click.pass_context
def totp(ctx: click.Context, username: str) -> None:
    """Enrol USERNAME in the second factor: print the secret, its otpauth URI and the recovery
    codes (shown only this once; hand them over in person)."""

    async def enrol(db: Database) -> tuple[Enrolment, list[str]]:
        done = await SecondFactors(db).enrol(username)
        await _audited(db, "totp.enrol", username)
        return done

    enrolment, codes = _run(_settings(ctx), enrol)
    click.echo(f"secret: {enrolment.secret}\nuri: {enrolment.uri}\nrecovery codes:")
    for code in codes:
        click.echo(f"  {code}")


@users.command("totp-reset")
@click.argument("username")
@click.pass_context
def totp_reset(ctx: click.Context, username: str) -> None:
    """Switch USERNAME's second factor off (a lost phone); they enrol again."""

    async def reset(db: Database) -> None:
        await SecondFactors(db).reset(username)
        await _audited(db, "totp.reset", username)

    _run(_settings(ctx), reset)
    click.echo(f"second factor of {username} reset")


async def _audited(db: Database, action: str, username: str) -> None:
    actor = audit_log.Actor(None, "cli", None)
    await audit_log.record(db, actor, audit_log.Event(action, target=f"user:{username}"), utcnow())


@users.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """List users: name, role, departments, state."""
    for user in _run(_settings(ctx), lambda db: UserStore(db).all()):
        state = "disabled" if user.disabled else "active"
        departments = ",".join(user.departments) or "-"
        click.echo(
            f"{user.username}\t{user.role.value}\t{departments}\t{state}\t{user.display_name}"
        )


@click.group(cls=Commands, name="api")
def api() -> None:
    """Run the QA web pages and HTTP API."""


@api.command("serve")
@click.option("--host", default=None, help="Default: http.host.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Default: http.port.")
@click.option(
    "--identity",
    "identities",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="X25519 private key (PEM) that opens recordings.",
)
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, identities: tuple[Path, ...]
) -> None:
    """Serve the QA pages and API alone (database, storage and keys from the settings)."""
    from zentrale.daemon.replica import serve_forever

    settings = _settings(ctx)
    asyncio.run(
        serve_forever(
            settings=settings, host=host, port=port, identities=identities, echo=click.echo
        )
    )


@click.group(cls=Commands, name="audit")
def audit() -> None:
    """Check the audit log."""


@audit.command("verify")
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Recompute the audit log's hash chain and check it against the signed checkpoints in the
    object store; exit 1 if an entry was changed, removed, cut off the end or rewritten."""
    settings = _settings(ctx)
    key = anchor.anchor_key(settings)
    with object_store(settings) as store:
        report = _run(settings, lambda db: anchor.verify_anchored(db, store, key))
    for problem in report.problems:
        click.echo(f"BROKEN: {problem}", err=True)
    click.echo(
        f"{report.entries} entries, head {report.head}, {report.checkpoints} checkpoints checked"
    )
    if not report.ok:
        raise SystemExit(1)
    click.echo("audit log intact")


@audit.command("checkpoint")
@click.pass_context
def checkpoint(ctx: click.Context) -> None:
    """Write a signed checkpoint of the audit log's head to the object store (and the log)."""
    settings = _settings(ctx)
    key = anchor.anchor_key(settings)
    with object_store(settings) as store:
        days = settings.audit.checkpoint_retention_days
        point = _run(settings, lambda db: anchor.checkpoint(db, store, key, utcnow(), days))
    click.echo(f"checkpoint at entry {point.seq}: {point.head}" if point else "audit log empty")


__all__: list[Any] = ["api", "audit", "users"]
