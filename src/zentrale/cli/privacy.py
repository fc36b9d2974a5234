"""The `zentrale retention`, `zentrale hold` and `zentrale subject` commands.

`retention check` validates the rules file; `retention run [--dry-run]` purges what is due
now. `hold add|list|release` manage legal holds. `subject export|erase` serve data-subject
requests; both need a reason, and erase asks for confirmation unless `--yes`. Changes are
audited under the operator's login name (`cli:<user>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from zentrale.base.clock import utcnow
from zentrale.cli.context import Commands
from zentrale.cli.context import cli_settings as _settings
from zentrale.config.settings import Settings
from zentrale.core import audit
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.privacy.holds import HoldStore, shown_value
from zentrale.privacy.models import HoldScope, LegalHold
from zentrale.privacy.purge import PurgeReport, purger_for
from zentrale.privacy.rules import RetentionRules, load_retention
from zentrale.privacy.subjects import Requester, SubjectError, SubjectQuery, erase, export
from zentrale.recording.setup import object_store, unwrappers_from
from zentrale.recording.storage.base import ObjectStore

T = TypeVar("T")
FILE = click.Path(dir_okay=False, path_type=Path)


def _actor() -> audit.Actor:
    return audit.Actor(None, f"cli:{getpass.getuser()}"[:128], None)


@dataclass
class _Parts:
    db: Database
    store: ObjectStore
    settings: Settings


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[_Parts]:
    with object_store(settings) as store:
        async with Database.open(settings.database.url) as db:
            await upgrade_engine(db.engine)
            yield _Parts(db, store, settings)


def _run(settings: Settings, work: Callable[[_Parts], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _opened(settings) as parts:
            return await work(parts)

    try:
        return asyncio.run(main())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _rules(settings: Settings, path: Path | None) -> RetentionRules:
    return load_retention(path or settings.retention.file)


@click.group(cls=Commands)
def retention() -> None:
    """Retention rules and the purge (crypto-shredding, destruction records)."""


@retention.command("check")
@click.option("--file", "path", type=FILE, help="Rules file (default: retention.file).")
@click.pass_context
def retention_check(ctx: click.Context, path: Path | None) -> None:
    """Validate the retention rules; print each rule and its period."""
    rules = _rules(_settings(ctx), path)
    click.echo(f"retention rules OK ({rules.source})")
    for spec in rules.document.rules:
        when = spec.when.model_dump(exclude_none=True, mode="json")
        click.echo(f"  {spec.name}: keep {spec.keep.days} days when {json.dumps(when)}")
    click.echo(f"  default: keep {rules.document.default.days} days")


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List what is due; change nothing.")
@click.option("--file", "path", type=FILE, help="Rules file (default: retention.file).")
@click.pass_context
def retention_run(ctx: click.Context, dry_run: bool, path: Path | None) -> None:
    """Purge every recording and call record past its retention period (not under hold)."""
    settings = _settings(ctx)
    rules = _rules(settings, path)

    async def work(parts: _Parts) -> PurgeReport:
        purger = purger_for(settings, parts.db, parts.store)
        return await purger.run(rules, utcnow(), dry_run=dry_run)

    report = _run(settings, work)
    for item in report.items:
        status = "would destroy" if item.status == "due" else item.status
        note = f" ({item.note})" if item.note else ""
        click.echo(
            f"{status} {item.kind.value} {item.id} call {item.call_id} "
            f"rule {item.rule} expired {item.expired_at:%Y-%m-%d}{note}"
        )
    click.echo(
        f"{'dry run: ' if dry_run else ''}{report.count('destroyed')} destroyed, "
        f"{report.count('due')} due, {report.count('held')} held, "
        f"{report.count('failed')} failed, {report.agent_states} agent state rows "
        f"{'due' if dry_run else 'deleted'}"
    )
    if report.failed:
        raise SystemExit(1)


@click.group(cls=Commands)
def hold() -> None:
    """Legal holds on calls, recordings, numbers and departments."""


@hold.command("add")
@click.option("--call", "call_id", help="A call id.")
@click.option("--recording", "recording_id", help="A recording id.")
@click.option("--number", help="A phone number (every call from or to it).")
@click.option("--department", help="A department (every call of it).")
@click.option("--reason", required=True, help="Why (case number, authority).")
@click.pass_context
def hold_add(
    ctx: click.Context,
    call_id: str | None,
    recording_id: str | None,
    number: str | None,
    department: str | None,
    reason: str,
) -> None:
    """Place a legal hold: nothing it covers is purged or erased until it is released."""
    given = {
        HoldScope.CALL: call_id,
        HoldScope.RECORDING: recording_id,
        HoldScope.NUMBER: number,
        HoldScope.DEPARTMENT: department,
    }
    chosen = [(scope, value) for scope, value in given.items() if value]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --call, --recording, --number, --department")
    scope, value = chosen[0]

    async def work(parts: _Parts) -> str:
        row = await HoldStore(parts.db).add(scope, str(value), reason, _actor())
        return row.id

    click.echo(f"hold {_run(_settings(ctx), work)} placed on {scope.value}")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@click.pass_context
def hold_list(ctx: click.Context, include_released: bool) -> None:
    """List the legal holds (numbers masked)."""

    async def work(parts: _Parts) -> list[str]:
        rows = await HoldStore(parts.db).list(include_released)
        event = audit.Event("hold.list", detail={"all": include_released, "count": len(rows)})
        await audit.record(parts.db, _actor(), event, utcnow())
        return [_hold_line(row) for row in rows]

    lines = _run(_settings(ctx), work)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no legal holds")


def _hold_line(row: LegalHold) -> str:
    state = f"released {row.released_at:%Y-%m-%d}" if row.released_at else "active"
    return (
        f"{row.id}  {row.scope.value}:{shown_value(row)}  {state}  since "
        f"{row.created_at:%Y-%m-%d} by {row.created_by}  reason: {row.reason}"
    )


@hold.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends.")
@click.pass_context
def hold_release(ctx: click.Context, hold_id: str, reason: str) -> None:
    """Release a legal hold."""

    async def work(parts: _Parts) -> None:
        await HoldStore(parts.db).release(hold_id, reason, _actor())

    _run(_settings(ctx), work)
    click.echo(f"hold {hold_id} released")


@click.group(cls=Commands)
def subject() -> None:
    """Data-subject requests: export and erase everything about a person."""


def _query(number: str | None, customer: str | None) -> SubjectQuery:
    try:
        return SubjectQuery(number=number, customer=customer)
    except SubjectError as exc:
        raise click.UsageError(str(exc)) from None


@subject.command("export")
@click.argument("number", required=False)
@click.option("--customer", help="A customer number (instead of, or besides, NUMBER).")
@click.option("--reason", required=True, help="Why (request reference).")
@click.option("-o", "--output", required=True, type=FILE, help="Zip file to write.")
@click.option("--identity", multiple=True, type=FILE, help="X25519 private key PEM.")
@click.pass_context
def subject_export(
    ctx: click.Context,
    number: str | None,
    customer: str | None,
    reason: str,
    output: Path,
    identity: tuple[Path, ...],
) -> None:
    """Write every call, recording (decrypted), answer, review and note of NUMBER to a zip."""
    settings = _settings(ctx)
    query = _query(number, customer)

    async def work(parts: _Parts) -> dict[str, Any]:
        who = Requester(_actor(), reason)
        unwrappers = unwrappers_from(settings, identity)
        return await export(
            db=parts.db,
            store=parts.store,
            unwrappers=unwrappers,
            query=query,
            who=who,
            out=output,
            now=utcnow(),
        )

    index = _run(settings, work)
    missing = [item["id"] for item in index["recordings"] if item["audio"] is None]
    click.echo(
        f"wrote {output}: {len(index['calls'])} calls, {len(index['recordings'])} "
        f"recordings ({len(missing)} without audio), "
        f"{len(index['survey_answers'])} survey answers"
    )


@subject.command("erase")
@click.argument("number", required=False)
@click.option("--customer", help="A customer number (instead of, or besides, NUMBER).")
@click.option("--reason", required=True, help="Why (request reference).")
@click.option("--receipt", type=FILE, help="Also write the receipt (JSON) here.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def subject_erase(
    ctx: click.Context,
    number: str | None,
    customer: str | None,
    reason: str,
    receipt: Path | None,
    yes: bool,
) -> None:
    """Erase everything about NUMBER that no legal hold keeps; print the receipt."""
    settings = _settings(ctx)
    query = _query(number, customer)
    if not yes:
        click.confirm(f"Erase everything about {query.shown}? This cannot be undone", abort=True)

    async def work(parts: _Parts) -> dict[str, Any]:
        who = Requester(_actor(), reason)
        keep = settings.retention.destruction_record_years
        done = await erase(
            db=parts.db, store=parts.store, query=query, who=who, now=utcnow(), keep_years=keep
        )
        return done.to_json()

    result = _run(settings, work)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if receipt is not None:
        receipt.write_text(text + "\n", encoding="utf-8")
    click.echo(text)
