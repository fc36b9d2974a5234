"""GET /api/stats and /api/stats.csv and the dashboard page: figures, scope, roles, audit.

Runs on SQLite and PostgreSQL with the QA world (users per role) plus the statistics tests'
hand-checked history (tests/integration/db/test_stats.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from zentrale.api.deps import Deps
from zentrale.calls.agent_states import AgentStateRow
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.stats.export import report_dict
from zentrale.stats.history import insert_rows, rows_of
from zentrale.stats.report import compute
from zentrale.stats.spec import ReportSpec

from ..db.test_stats import HISTORY, IST
from .conftest import World, sign_in

pytestmark = pytest.mark.asyncio
RANGE = {"from": "2026-03-02", "to": "2026-03-03", "tz": "Europe/Istanbul"}


async def _history(db: Database) -> None:
    await insert_rows(db, rows_of(HISTORY))


async def _get(client: httpx.AsyncClient, world: World, user: str, **params: Any) -> Any:
    response = await client.get("/api/stats", params={**RANGE, **params}, headers=world.auth(user))
    assert response.status_code == 200, response.text
    return response.json()


async def test_admin_gets_every_department_as_computed(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _history(db)
    body = await _get(client, world, "admin", service_level="support:30")
    spec = ReportSpec(
        group="department",
        period="day",
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 3),
        zone=IST,
        service_level={"support": 30.0},
    )
    async with db.read() as session:
        assert body == report_dict(spec, await compute(session, spec))
    tuesday = next(r for r in body["rows"] if r["period_start"] == "2026-03-03T00:00:00+03:00")
    assert (tuesday["key"], tuesday["offered"], tuesday["answered"]) == ("sales", 1, 1)
    assert (tuesday["avg_wait"], tuesday["service_level"], tuesday["avg_handle"]) == (5, 1.0, 50)
    assert {row["key"] for row in body["rows"]} == {"sales", "support"}


async def test_supervisor_sees_only_their_departments(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _history(db)
    body = await _get(client, world, "super")
    assert {row["key"] for row in body["rows"]} == {"sales"}
    agents = await _get(client, world, "super", group="agent")
    assert "PJSIP/cem" not in {row["key"] for row in agents["rows"]}  # cem answered support


@pytest.mark.parametrize("user", ["qa", "agent"])
async def test_qa_and_agents_are_refused(
    client: httpx.AsyncClient, world: World, user: str
) -> None:
    for path in ("/api/stats", "/api/stats.csv", "/dashboard"):
        response = await client.get(path, headers=world.auth(user))
        assert response.status_code == 403, path


async def test_without_credentials_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/stats")).status_code == 401
    assert (await client.get("/api/stats.csv")).status_code == 401


async def test_agent_reports_are_audited(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _history(db)
    await _get(client, world, "admin")
    await _get(client, world, "admin", group="agent", period="hour")
    audit = (await client.get("/api/audit", headers=world.auth("admin"))).json()["items"]
    entries = [item for item in audit if item["action"] == "stats.agents"]
    assert len(entries) == 1
    assert entries[0]["detail"]["period"] == "hour"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "team"}, "group"),
        ({"period": "month"}, "period"),
        ({"from": "03/02"}, "from"),
        ({"from": "2026-03-05"}, "to"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"service_level": "sales=fast"}, "service_level"),
        ({"short_abandon": "x"}, "short_abandon"),
    ],
)
async def test_bad_parameters_are_named(
    client: httpx.AsyncClient, world: World, params: dict[str, str], field: str
) -> None:
    response = await client.get(
        "/api/stats", params={**RANGE, **params}, headers=world.auth("admin")
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(field)


async def test_csv_has_the_same_figures(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _history(db)
    body = await _get(client, world, "admin")
    response = await client.get("/api/stats.csv", params=RANGE, headers=world.auth("admin"))
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["key"], r["period_start"]) for r in lines] == [
        (r["key"], r["period_start"]) for r in body["rows"]
    ]
    sales = lines[0]
    assert (sales["offered"], sales["abandoned_short"], sales["p90_wait"]) == ("9", "3", "27.15")
    assert (sales["csat"], sales["score_mean_1_5"], sales["nps"]) == ("0.6667", "3.667", "")


async def test_dashboard_shows_the_report(
    client: httpx.AsyncClient, world: World, db: Database, deps: Deps
) -> None:
    await _history(db)
    await sign_in(client, "super")
    page = await client.get("/dashboard", params=RANGE)
    assert page.status_code == 200
    html = page.text
    assert 'id="calls-chart"' in html
    assert 'id="sl-chart"' in html
    cell = re.search(
        r'data-key="sales" data-period="2026-03-02T00:00:00\+03:00">(.*?)</tr>', html, re.S
    )
    assert cell is not None
    assert '<td data-field="offered">9</td>' in cell.group(1)
    assert "support" not in re.findall(r'data-key="([^"]+)"', html)
    bad = await client.get("/dashboard", params={**RANGE, "period": "year"})
    assert bad.status_code == 400
    assert "period" in bad.text


async def test_wallboard_routes_roles_and_scope(deps: Deps, world: World) -> None:
    from zentrale.api import create_app
    from zentrale.api.routes_wallboard import wallboard_routers
    from zentrale.stats.wallboard import Wallboard
    from zentrale.telephony.board import AgentBoard
    from zentrale.telephony.queueing import Queues

    agents = AgentBoard()
    agents.know([("PJSIP/1001", "Anna"), ("PJSIP/2001", "Mehmet")])
    queues = Queues(agents)
    queues.join("call-1", "sales", 0)
    board = Wallboard(queues, lambda: {"sales": ["PJSIP/1001"], "support": ["PJSIP/2001"]})
    app = create_app(deps)
    for router in wallboard_routers(board, deps):
        app.include_router(router)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        assert (await http.get("/api/wallboard")).status_code == 401
        for user in ("qa", "agent"):
            for path in ("/api/wallboard", "/api/wallboard/events", "/wallboard"):
                refused = await http.get(path, headers=world.auth(user))
                assert refused.status_code == 403, (user, path)
        mine = (await http.get("/api/wallboard", headers=world.auth("super"))).json()
        assert [(d["department"], d["waiting"]) for d in mine["departments"]] == [("sales", 1)]
        assert [(a["endpoint"], a["state"]) for a in mine["agents"]] == [("PJSIP/1001", "idle")]
        everyone = (await http.get("/api/wallboard", headers=world.auth("admin"))).json()
        assert [d["department"] for d in everyone["departments"]] == ["sales", "support"]
        page = await http.get("/wallboard", headers=world.auth("super"))
        assert page.status_code == 200
        assert 'data-department="sales"' in page.text
        assert 'data-department="support"' not in page.text
        assert 'data-agent="PJSIP/1001"' in page.text
        assert 'data-agent="PJSIP/2001"' not in page.text


async def test_agent_figures_scope_csv_roles_and_audit(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    start = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
    rows = [  # a sales agent (in config/routing.yaml) paused 10 min, a support agent idle
        ("Local/1001@sim-agent", "paused", "break", start, start + dt.timedelta(minutes=10)),
        ("Local/1011@sim-agent", "available", None, start, start + dt.timedelta(hours=1)),
    ]
    async with db.write() as session:
        for endpoint, state, reason, begin, end in rows:
            session.add(
                AgentStateRow(
                    endpoint=endpoint,
                    node="n1",
                    state=state,
                    reason=reason,
                    started_at=begin,
                    ended_at=end,
                )
            )
    admin = (
        await client.get("/api/stats/agents", params=RANGE, headers=world.auth("admin"))
    ).json()
    assert [row["agent"] for row in admin["agents"]] == [
        "Local/1001@sim-agent",
        "Local/1011@sim-agent",
    ]
    mine = await client.get("/api/stats/agents", params=RANGE, headers=world.auth("super"))
    (sales,) = mine.json()["agents"]
    assert (sales["agent"], sales["signed_in"], sales["paused_by_reason"]) == (
        "Local/1001@sim-agent",
        600.0,
        {"break": 600.0},
    )
    assert sales["occupancy"] is None
    text = await client.get("/api/stats/agents.csv", params=RANGE, headers=world.auth("super"))
    assert text.text.splitlines()[1].endswith(",break=600.0")
    for user in ("qa", "agent"):
        refused = await client.get("/api/stats/agents", headers=world.auth(user))
        assert refused.status_code == 403, user
    bad = await client.get(
        "/api/stats/agents", params={"period": "year"}, headers=world.auth("admin")
    )
    assert (bad.status_code, "period" in bad.text) == (422, True)
    page = await client.get(
        "/dashboard", params={**RANGE, "group": "agent"}, headers=world.auth("super")
    )
    assert 'id="agent-figures"' in page.text
    assert 'data-agent="Local/1001@sim-agent"' in page.text
    assert 'data-agent="Local/1011@sim-agent"' not in page.text
    async with db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("stats.agent_figures") == 4
