"""The `zentrale report` command: the statistics of docs/statistics.md as a table or CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import utcnow
from zentrale.cli.context import Command
from zentrale.cli.context import cli_settings as _settings
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.stats.agent_figures import AgentFigures, figures_csv, figures_dict
from zentrale.stats.agent_store import agent_figures
from zentrale.stats.export import csv_text
from zentrale.stats.report import StatsRow, compute
from zentrale.stats.spec import (
    DEFAULT_SERVICE_LEVEL,
    DEFAULT_SHORT_ABANDON,
    GROUPS,
    PERIODS,
    Group,
    Period,
    ReportSpec,
    SpecError,
    parse_day,
    parse_thresholds,
    parse_zone,
)
from zentrale.stats.zone import rules_zone

T = TypeVar("T")
COLUMNS = (
    ("offered", 7),
    ("answered", 8),
    ("abandoned", 9),
    ("abandoned_short", 5),
    ("service_level", 6),
    ("avg_wait", 8),
    ("p90_wait", 8),
    ("avg_handle", 8),
    ("transfers", 4),
    ("overflows", 4),
    ("suggestions", 4),
    ("analysed_recordings", 4),
    ("avg_agent_talk_share", 6),
    ("avg_overtalk_share", 6),
    ("avg_longest_dead_air", 7),
)
HEADINGS = {
    "analysed_recordings": "recs",
    "avg_agent_talk_share": "agent%",
    "avg_overtalk_share": "overt%",
    "avg_longest_dead_air": "deadair",
}


@click.command(cls=Command)
@click.option("--from", "first", required=True, help="First local day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last local day (included), YYYY-MM-DD.")
@click.option("--by", "group", type=click.Choice(GROUPS), default="department", show_default=True)
@click.option("--period", type=click.Choice(PERIODS), default="day", show_default=True)
@click.option("--tz", help="Time zone (default: the routing rules' timezone).")
@click.option(
    "--service-level",
    "levels",
    multiple=True,
    metavar="DEPT=SECONDS",
    help=f"A department's service-level threshold (default {DEFAULT_SERVICE_LEVEL:g} s)"
    "; may repeat.",
)
@click.option(
    "--short-abandon",
    type=float,
    default=DEFAULT_SHORT_ABANDON,
    show_default=True,
    help="Abandons after at most this many seconds in queue are short.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option(
    "--agents", "agents", is_flag=True, help="Print the agent figures (every agent) instead."
)
@click.pass_context
def report(
    ctx: click.Context,
    first: str,
    last: str,
    group: Group,
    period: Period,
    tz: str | None,
    levels: tuple[str, ...],
    short_abandon: float,
    as_csv: bool,
    agents: bool,
) -> None:
    """Statistics per department or agent and period (see docs/statistics.md)."""
    settings = _settings(ctx)
    try:
        spec = ReportSpec(
            group=group,
            period=period,
            first_day=parse_day("--from", first),
            last_day=parse_day("--to", last),
            zone=parse_zone(tz) if tz else rules_zone(settings.routing.file),
            service_level=parse_thresholds(levels),
            short_abandon=short_abandon,
        )
    except SpecError as exc:
        raise click.UsageError(str(exc)) from None
    if agents:
        figures = _run(settings, lambda session: agent_figures(session, spec, None, utcnow()))
        click.echo(figures_csv(figures) if as_csv else _agent_table(spec, figures), nl=not as_csv)
        return
    rows = _run(settings, lambda session: compute(session, spec))
    click.echo(csv_text(rows) if as_csv else _table(spec, rows), nl=not as_csv)


def _run(settings: Settings, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Database.open(settings.database.url) as db, db.read() as session:
            return await query(session)

    try:
        return asyncio.run(main())
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database could not answer ({type(exc).__name__}); "
            "is it reachable and migrated (zentrale db upgrade)?"
        ) from None


def _table(spec: ReportSpec, rows: list[StatsRow]) -> str:
    header = f"{spec.group:<24} {'period':<16} " + " ".join(
        f"{HEADINGS.get(name, name)[:width]:>{width}}" for name, width in COLUMNS
    )
    lines = [f"{spec.first_day} .. {spec.last_day} ({spec.zone.key})", header]
    for row in rows:
        start = row.period_start
        label = start.strftime("%Y-%m-%d %H:%M" if spec.period == "hour" else "%Y-%m-%d")
        cells = " ".join(f"{_cell(getattr(row, name)):>{width}}" for name, width in COLUMNS)
        lines.append(f"{row.key[:24]:<24} {label:<16} {cells}")
    if not rows:
        lines.append("(no calls in this range)")
    return "\n".join(lines)


def _agent_table(spec: ReportSpec, rows: list[AgentFigures]) -> str:
    names = ("signed_in", "paused", "after_call_work", "talk", "hold", "calls", "occupancy")
    header = f"{'agent':<24} {'period':<16} " + " ".join(f"{name[:9]:>9}" for name in names)
    lines = [f"{spec.first_day} .. {spec.last_day} ({spec.zone.key})", header]
    for row in rows:
        data = figures_dict(row)
        label = row.period_start.strftime("%Y-%m-%d %H:%M" if spec.period == "hour" else "%Y-%m-%d")
        cells = " ".join(f"{_cell(data[name]):>9}" for name in names)
        lines.append(f"{row.endpoint[:24]:<24} {label:<16} {cells}")
    if not rows:
        lines.append("(no agent figures in this range)")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


__all__ = ["report"]
