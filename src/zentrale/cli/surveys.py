"""The `zentrale survey` and `zentrale campaign` commands.

They work on the database and the routing file named in the settings; a running daemon picks
up a started campaign within `telephony.campaign_idle_poll` (5 s) and a stopped one within a
second (it reads campaigns from the database).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from zentrale.cli.context import Commands, run_with_database
from zentrale.cli.context import cli_settings as _settings
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.load import load_rules
from zentrale.routing.rules import Rules
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.setup import CampaignRequest, prepare
from zentrale.surveys.store import CampaignStore, Progress
from zentrale.surveys.summary import QuestionSummary, summarise

T = TypeVar("T")


def _rules(settings: Settings) -> Rules:
    try:
        return load_rules(settings.routing.file)
    except InvalidRulesError as exc:
        raise click.ClickException(f"the routing rules are not valid:\n{exc}") from None


def _run(settings: Settings, work: Callable[[CampaignStore], Awaitable[T]]) -> T:
    return _run_db(settings, lambda db: work(CampaignStore(db)))


def _run_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    return run_with_database(settings, work)


@click.group(cls=Commands)
def survey() -> None:
    """Survey definitions (in the routing file's `surveys:`)."""


@survey.command("list")
@click.pass_context
def survey_list(ctx: click.Context) -> None:
    """List the surveys of the routing rules with their questions and scales."""
    rules = _rules(_settings(ctx))
    for name, definition in rules.document.surveys.items():
        click.echo(f"{name}:")
        for position, question in enumerate(definition.questions, 1):
            scale = definition.scale_of(question).text
            click.echo(f"  {position}. {question.name} ({scale}, prompt {question.prompt})")


@click.group(cls=Commands)
def campaign() -> None:
    """Outbound survey campaigns: load a CSV of numbers, start, stop, progress."""


@campaign.command("create")
@click.argument("name")
@click.option("--survey", "survey_name", required=True, help="A survey of the routing rules.")
@click.option(
    "--numbers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV with a 'number' column (header row first).",
)
@click.option("--from", "window_from", default="09:00", show_default=True, help="Calls from.")
@click.option("--to", "window_to", default="18:00", show_default=True, help="Calls until.")
@click.option("--days", default="mon-fri", show_default=True, help="e.g. mon-fri, mon,wed.")
@click.option("--concurrency", default=2, show_default=True, help="Calls at the same time.")
@click.option("--retries", default=2, show_default=True, help="Calls more after busy/no answer.")
@click.option("--retry-after", default="30m", show_default=True, help="Wait between calls.")
@click.option("--ring", default="30s", show_default=True, help="How long a number rings.")
@click.option("--language", default=None, help="Language of the prompts (default: rules').")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    survey_name: str,
    numbers: Path,
    window_from: str,
    window_to: str,
    days: str,
    concurrency: int,
    retries: int,
    retry_after: str,
    ring: str,
    language: str | None,
) -> None:
    """Create campaign NAME (not started yet) from a CSV of numbers."""
    settings = _settings(ctx)
    request = CampaignRequest(
        name=name,
        survey=survey_name,
        numbers_csv=numbers.read_text(encoding="utf-8-sig"),
        numbers_source=str(numbers),
        window_from=window_from,
        window_to=window_to,
        days=days,
        concurrency=concurrency,
        retries=retries,
        retry_after=retry_after,
        ring=ring,
        language=language,
        created_by="cli",
    )
    new, listed = prepare(request, _rules(settings))
    _run(settings, lambda store: store.create(new, listed))
    click.echo(
        f"campaign {name}: {len(listed)} numbers, {new.window}; start it with "
        f"`zentrale campaign start {name}`"
    )


@campaign.command("start")
@click.argument("name")
@click.pass_context
def start(ctx: click.Context, name: str) -> None:
    """Start (or resume) campaign NAME: the daemon calls within its hours."""
    found = _run(_settings(ctx), lambda store: store.start(name))
    click.echo(f"campaign {name}: {found.state}")


@campaign.command("stop")
@click.argument("name")
@click.pass_context
def stop(ctx: click.Context, name: str) -> None:
    """Stop campaign NAME: no new calls; calls in progress finish."""
    found = _run(_settings(ctx), lambda store: store.stop(name))
    click.echo(f"campaign {name}: {found.state}")


@campaign.command("status")
@click.argument("name")
@click.pass_context
def status(ctx: click.Context, name: str) -> None:
    """Show campaign NAME: state, hours, and its numbers by state."""
    click.echo(_describe(_run(_settings(ctx), lambda store: store.progress(name))))


@campaign.command("results")
@click.argument("name")
@click.pass_context
def results(ctx: click.Context, name: str) -> None:
    """Show campaign NAME's answers per question: counts, mean and distribution."""

    async def answers(db: Database) -> list[QuestionSummary]:
        found = await CampaignStore(db).get(name)
        return summarise(await AnswerStore(db).for_campaign(found.id))

    summaries = _run_db(_settings(ctx), answers)
    if not summaries:
        click.echo(f"campaign {name}: no answers yet")
    for s in summaries:
        spread = " ".join(f"{key}:{count}" for key, count in s.distribution.items()) or "-"
        mean = "-" if s.mean is None else f"{s.mean:g}"
        click.echo(
            f"{s.position}. {s.question} ({s.scale}): {s.answered} answered, "
            f"{s.unanswered} unanswered, {s.abandoned} abandoned; mean {mean}; {spread}"
        )


@campaign.command("list")
@click.pass_context
def list_campaigns(ctx: click.Context) -> None:
    """List every campaign with its state."""

    async def everything(store: CampaignStore) -> list[Progress]:
        return [await store.progress(found.name) for found in await store.all()]

    for progress in _run(_settings(ctx), everything):
        c, counts = progress.campaign, progress.counts
        total = sum(counts.values())
        click.echo(f"{c.name}\t{c.state}\t{c.survey}\t{counts['done']}/{total} done")


def _describe(progress: Progress) -> str:
    c = progress.campaign
    counts = ", ".join(f"{state} {count}" for state, count in progress.counts.items())
    return "\n".join(
        [
            f"campaign {c.name}: {c.state}, survey {c.survey}",
            f"hours {c.window_from}-{c.window_to} {c.days}, {c.concurrency} at once, "
            f"{c.retries} retries after {c.retry_after_s // 60} min, ringing {c.ring_s}s",
            f"numbers: {counts}; calls placed: {progress.attempts}",
        ]
    )
