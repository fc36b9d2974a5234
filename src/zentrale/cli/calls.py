"""`zentrale call` and `zentrale agents`: live calls and agents through the daemon's HTTP API.

They talk to a running daemon (`--url`, default the settings' http address) with a personal
API token (`ZENTRALE_API_TOKEN`, or `--token-file`), so the same role matrix and audit log
apply as in the browser.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import httpx

from zentrale.cli.context import Commands

FILE_OPTION_HELP = "File holding your API token (default: $ZENTRALE_API_TOKEN)."


def _client(ctx: click.Context, url: str | None, token_file: Path | None) -> httpx.Client:
    token = token_file.read_text().strip() if token_file else os.environ.get("ZENTRALE_API_TOKEN")
    if not token:
        raise click.UsageError(
            "no API token: set ZENTRALE_API_TOKEN or pass --token-file "
            "(make one with `zentrale users token NAME`)"
        )
    if url is None:
        url = ctx.obj.settings().http.url() if ctx.obj is not None else "http://127.0.0.1:8800"
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=90)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise click.ClickException(f"the daemon answered {response.status_code}: {message}")
    return response.json()


def _connection_options(command: Any) -> Any:
    command = click.option("--url", help="The daemon's HTTP address (default: from settings).")(
        command
    )
    return click.option(
        "--token-file", type=click.Path(dir_okay=False, path_type=Path), help=FILE_OPTION_HELP
    )(command)


@click.group(cls=Commands, name="call")
def call() -> None:
    """Place, list and transfer calls through the running daemon."""


@call.command("place")
@click.option("--number", required=True, help="The number to call, e.g. +905551112233.")
@click.option("--agent", help="The agent's phone that rings first (agents: their own).")
@click.option("--department", help="Department whose recording and consent rules apply.")
@_connection_options
@click.pass_context
def place(
    ctx: click.Context,
    number: str,
    agent: str | None,
    department: str | None,
    url: str | None,
    token_file: Path | None,
) -> None:
    """Click-to-call: ring the agent, then NUMBER; print how it went."""
    body = {"number": number, "agent": agent, "department": department}
    with _client(ctx, url, token_file) as api:
        result = _answer(api.post("/api/calls", json={k: v for k, v in body.items() if v}))
    click.echo(f"call {result['call_id']}: {result['result']}")
    if result["result"] != "answered":
        ctx.exit(1)


@call.command("list")
@_connection_options
@click.pass_context
def list_calls(ctx: click.Context, url: str | None, token_file: Path | None) -> None:
    """List the calls in progress."""
    with _client(ctx, url, token_file) as api:
        calls = _answer(api.get("/api/calls"))
    for item in calls:
        connected = "with agent" if item["agent_connected"] else ""
        click.echo(f"{item['call_id']}  {item['caller']}  {item['state']}  {connected}".rstrip())
    if not calls:
        click.echo("no calls in progress")


@call.command("transfer")
@click.argument("call_id")
@click.option(
    "--to",
    "kind",
    type=click.Choice(["department", "menu", "dial"]),
    default="department",
    show_default=True,
    help="What the target is.",
)
@click.option("--target", required=True, help="Department or menu name, or a number.")
@_connection_options
@click.pass_context
def transfer(
    ctx: click.Context,
    call_id: str,
    kind: str,
    target: str,
    url: str | None,
    token_file: Path | None,
) -> None:
    """Blind-transfer CALL_ID (connected to an agent) elsewhere."""
    with _client(ctx, url, token_file) as api:
        _answer(api.post(f"/api/calls/{call_id}/transfer", json={"to": kind, "target": target}))
    click.echo(f"call {call_id}: transferring to {kind} {target}")


@click.group(cls=Commands, name="agents")
def agents() -> None:
    """See agents and pause or resume them through the running daemon."""


@agents.command("list")
@_connection_options
@click.pass_context
def list_agents(ctx: click.Context, url: str | None, token_file: Path | None) -> None:
    """List the agents and what each is doing."""
    with _client(ctx, url, token_file) as api:
        for agent in _answer(api.get("/api/agents")):
            click.echo(f"{agent['endpoint']}  {agent['name']}  {agent['state']}")


@agents.command("pause")
@click.argument("endpoint")
@click.option("--resume", is_flag=True, help="Put the agent back into rotation.")
@_connection_options
@click.pass_context
def pause(
    ctx: click.Context, endpoint: str, resume: bool, url: str | None, token_file: Path | None
) -> None:
    """Take ENDPOINT's agent out of the queues' rotation (or back in with --resume)."""
    with _client(ctx, url, token_file) as api:
        agent = _answer(
            api.post("/api/agents/pause", json={"endpoint": endpoint, "paused": not resume})
        )
    click.echo(f"{agent['endpoint']}  {agent['name']}  {agent['state']}")
