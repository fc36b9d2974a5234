"""Statistics over HTTP: `GET /api/stats` (JSON), `GET /api/stats.csv` and the dashboard page.

Supervisors see their own departments, administrators every department; the agent figures
(`GET /api/stats/agents`, `.csv`) cover the agents of those departments in the routing rules
(agents themselves may not see them: the matrix refuses). A report grouped by
agent names people, so asking for one is written to the audit log. The query parameters are
`group`, `period`, `from`, `to` (local days, both included), `tz` (default: the routing rules'
time zone), `service_level` (`sales:30,support:15`) and `short_abandon` (seconds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from zentrale.api.auth import Caller, deps_of
from zentrale.api.web.render import language, render
from zentrale.base.errors import InvalidRequestError, ZentraleError
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.routing.load import load_rules
from zentrale.stats import charts
from zentrale.stats.agent_figures import AgentFigures, figures_csv, figures_dict
from zentrale.stats.agent_store import agent_figures
from zentrale.stats.export import csv_text, report_dict, row_dict
from zentrale.stats.report import StatsRow, compute
from zentrale.stats.spec import (
    DEFAULT_SHORT_ABANDON,
    ReportSpec,
    SpecError,
    parse_day,
    parse_thresholds,
    parse_zone,
)
from zentrale.stats.suggestions import Suggestion, suggestions
from zentrale.stats.texts import TEXTS
from zentrale.stats.zone import rules_zone

router = APIRouter(prefix="/api", tags=["stats"])
pages = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 7


def spec_of(request: Request, caller: Principal) -> ReportSpec:
    """Build the report the query asks for, in CALLER's scope; raise InvalidRequestError if bad."""
    params = request.query_params
    deps = deps_of(request)
    try:
        zone = (
            parse_zone(params["tz"]) if params.get("tz") else rules_zone(deps.settings.routing.file)
        )
        today = deps.clock().astimezone(zone).date()
        last = parse_day("to", params["to"]) if params.get("to") else today
        first = (
            parse_day("from", params["from"])
            if params.get("from")
            else (last - dt.timedelta(days=DEFAULT_DAYS - 1))
        )
        return ReportSpec(
            group=params.get("group", "department"),  # type: ignore[arg-type]
            period=params.get("period", "day"),  # type: ignore[arg-type]
            first_day=first,
            last_day=last,
            zone=zone,
            service_level=parse_thresholds(params.getlist("service_level")),
            short_abandon=_number(params.get("short_abandon"), DEFAULT_SHORT_ABANDON),
            departments=None if caller.role is Role.ADMIN else tuple(caller.departments),
        )
    except SpecError as exc:
        raise InvalidRequestError(str(exc)) from None


def _number(value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise SpecError(f"short_abandon: '{value}' is not a number of seconds") from None


async def rows_for(request: Request, caller: Principal, spec: ReportSpec) -> list[StatsRow]:
    """Compute SPEC's rows; a report naming agents is audited."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        rows = await compute(session, spec)
    if spec.group == "agent":
        detail = {
            "from": spec.first_day.isoformat(),
            "to": spec.last_day.isoformat(),
            "period": spec.period,
            "rows": len(rows),
        }
        event = audit.Event("stats.agents", detail=detail)
        await audit.record(deps.db, caller.actor, event, deps.clock())
    return rows


@router.get("/stats", name="stats.report")
async def stats_report(caller: Caller, request: Request) -> dict[str, Any]:
    """Return the statistics per department or agent and period (see docs/statistics.md)."""
    spec = spec_of(request, caller)
    return report_dict(spec, await rows_for(request, caller, spec))


@router.get("/stats.csv", name="stats.csv")
async def stats_csv(caller: Caller, request: Request) -> Response:
    """Return the same statistics as CSV."""
    spec = spec_of(request, caller)
    text = csv_text(await rows_for(request, caller, spec))
    name = f"stats-{spec.group}-{spec.period}-{spec.first_day}-{spec.last_day}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


async def suggestions_for(
    request: Request, caller: Principal, spec: ReportSpec
) -> list[Suggestion]:
    """Return the suggestions for management of SPEC's days (audited: they name agents)."""
    deps = deps_of(request)
    department = request.query_params.get("department") or None
    async with deps.db.read() as session:
        found = await suggestions(session, spec, department)
    detail = {
        "from": spec.first_day.isoformat(),
        "to": spec.last_day.isoformat(),
        "department": department,
        "rows": len(found),
    }
    await audit.record(
        deps.db, caller.actor, audit.Event("stats.suggestions", detail=detail), deps.clock()
    )
    return found


@router.get("/stats/suggestions", name="stats.suggestions")
async def stats_suggestions(caller: Caller, request: Request) -> dict[str, Any]:
    """Return the suggestions for management of a period (`from`, `to`, `department`)."""
    spec = spec_of(request, caller)
    found = await suggestions_for(request, caller, spec)
    return {
        "from": spec.first_day.isoformat(),
        "to": spec.last_day.isoformat(),
        "timezone": spec.zone.key,
        "suggestions": [
            {
                "at": item.at.isoformat(),
                "department": item.department,
                "call_id": item.call_id,
                "agent": item.agent,
                "text": item.text,
            }
            for item in found
        ],
    }


@pages.get("/dashboard", name="web.dashboard")
async def dashboard(caller: Caller, request: Request) -> Response:
    """The supervisors' dashboard: the report as a table and two charts."""
    try:
        spec: ReportSpec | None = spec_of(request, caller)
        error = None
    except InvalidRequestError as exc:
        spec, error = None, str(exc)
    rows = await rows_for(request, caller, spec) if spec is not None else []
    ideas = await suggestions_for(request, caller, spec) if spec is not None else []
    by_agent = spec is not None and spec.group == "agent"
    agent_rows = await agent_rows_for(request, caller, spec) if by_agent and spec else []
    points = charts.totals(rows, spec.period if spec else "day")
    query = str(request.url.query)
    csv_url = "/api/stats.csv" + ("?" + query if query else "")
    return render(
        request,
        "dashboard.html",
        400 if error else 200,
        caller=caller,
        spec=spec,
        rows=[row_dict(row) for row in rows],
        error=error,
        st=TEXTS[language(request)],
        call_bars=charts.call_bars(points),
        level_bars=charts.level_bars(points),
        chart=(charts.WIDTH, charts.HEIGHT),
        csv_url=csv_url,
        suggestions=ideas,
        agent_rows=[figures_dict(row) for row in agent_rows],
    )


def agents_in_scope(request: Request, caller: Principal) -> frozenset[str] | None:
    """Return the agents CALLER may see figures of: their departments' agents in the routing
    rules (None for an administrator: every agent; none when the rules cannot be read)."""
    if caller.role is Role.ADMIN:
        return None
    try:
        rules = load_rules(deps_of(request).settings.routing.file)
    except ZentraleError:
        return frozenset()
    departments = rules.document.departments
    return frozenset(
        agent.endpoint
        for name, department in departments.items()
        if name in caller.departments
        for agent in department.agents
    )


async def agent_rows_for(
    request: Request, caller: Principal, spec: ReportSpec
) -> list[AgentFigures]:
    """Compute the agent figures of SPEC in CALLER's scope (audited: they name agents)."""
    deps = deps_of(request)
    scope = await asyncio.to_thread(agents_in_scope, request, caller)
    async with deps.db.read() as session:
        rows = await agent_figures(session, spec, scope, deps.clock())
    detail = {
        "from": spec.first_day.isoformat(),
        "to": spec.last_day.isoformat(),
        "period": spec.period,
        "rows": len(rows),
    }
    await audit.record(
        deps.db, caller.actor, audit.Event("stats.agent_figures", detail=detail), deps.clock()
    )
    return rows


@router.get("/stats/agents", name="stats.agents")
async def stats_agents(caller: Caller, request: Request) -> dict[str, Any]:
    """Return the agent figures per agent and period (see docs/statistics.md)."""
    spec = spec_of(request, caller)
    rows = await agent_rows_for(request, caller, spec)
    return {
        "from": spec.first_day.isoformat(),
        "to": spec.last_day.isoformat(),
        "period": spec.period,
        "timezone": spec.zone.key,
        "agents": [figures_dict(row) for row in rows],
    }


@router.get("/stats/agents.csv", name="stats.agents_csv")
async def stats_agents_csv(caller: Caller, request: Request) -> Response:
    """Return the agent figures as CSV."""
    spec = spec_of(request, caller)
    text = figures_csv(await agent_rows_for(request, caller, spec))
    name = f"agents-{spec.period}-{spec.first_day}-{spec.last_day}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
