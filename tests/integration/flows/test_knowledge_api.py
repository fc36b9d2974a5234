"""Scripts, articles and completing the caller's record over the daemon's API, on the real
sandbox Asterisk: who may open what (role and department), the script of a call only for the
agent whose call it is, completing the record only for a call the agent answered (validated,
audited without values), and a bad change to the files refused with the last good set live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.calls.models import Call
from zentrale.config.settings import KnowledgeSettings
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers import store as customers
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript

from .conftest import MONDAY_10, RULES, Flows, daemon_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
CALLER = "+905551112233"
SCRIPT = "---\ntitle: Sales\ndepartments: [sales]\n---\nHello {customer.name}, {agent.name} here.\n"
SALES = "---\ntitle: Sales prices\ndepartments: [sales]\ntags: [tariff]\n---\nBasic: 19.90\n"
SUPPORT = "---\ntitle: Support hours\ndepartments: [support]\n---\nMon-Fri 8-18\n"


@pytest_asyncio.fixture
async def flows(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Flows]:
    """The daemon with scripts and articles for sales and support, and a known caller."""
    knowledge = tmp_path / "knowledge"
    for relative, text in {
        "scripts/sales.md": SCRIPT,
        "articles/sales-prices.md": SALES,
        "articles/support-hours.md": SUPPORT,
    }.items():
        (knowledge / relative).parent.mkdir(parents=True, exist_ok=True)
        (knowledge / relative).write_text(text)
    settings = daemon_settings(tmp_path, RULES).model_copy(
        update={"knowledge": KnowledgeSettings(dir=knowledge, history_dir=tmp_path / "kb")}
    )
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        async with daemon.db.write() as session:
            new = customers.NewCustomer(numbers=[CALLER], name="Zeynep Kaya")
            await customers.create(session, new, MONDAY_10)
        yield Flows(daemon, asterisk)


async def _client(flows: Flows, username: str, role: Role, **more: Any) -> httpx.AsyncClient:
    users = UserStore(flows.daemon.db)
    user = await users.add(
        NewUser(
            username=username,
            display_name=username.title(),
            password="a long password 1",
            role=role,
            departments=more.get("departments", ("sales",)),
            agent_endpoint=more.get("endpoint"),
        )
    )
    token = (await users.issue_token(user.id, "test", 1)).secret
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=flows.daemon.http_url, headers=headers, timeout=60)


def _titles(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [hit["title"] for hit in answer.json()]


async def test_articles_per_role_and_department_and_a_refused_change(
    flows: Flows, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=flows.daemon.http_url) as anonymous:
        assert (await anonymous.get("/api/knowledge/articles")).status_code == 401
    async with await _client(flows, "qa", Role.QA) as qa:
        assert (await qa.get("/api/knowledge/articles")).status_code == 403
    agent = await _client(flows, "ayla", Role.AGENT, endpoint="Local/A1@sim-agent/n")
    boss = await _client(flows, "sup", Role.SUPERVISOR, departments=("support",))
    admin = await _client(flows, "root", Role.ADMIN)
    async with agent, boss, admin:
        assert _titles(await agent.get("/api/knowledge/articles")) == ["Sales prices"]
        assert _titles(await agent.get("/api/knowledge/articles", params={"q": "tariff"})) == [
            "Sales prices"
        ]
        assert _titles(await boss.get("/api/knowledge/articles")) == ["Support hours"]
        assert len(_titles(await admin.get("/api/knowledge/articles"))) == 2
        opened = await agent.get("/api/knowledge/articles/sales-prices")
        assert opened.json()["html"] == "<p>Basic: 19.90</p>\n"
        hidden = await agent.get("/api/knowledge/articles/support-hours")
        assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "article-not-found")
        assert (await agent.get("/api/knowledge")).status_code == 403
        status = (await boss.get("/api/knowledge")).json()
        assert (status["scripts"], status["articles"], status["refused"]) == (1, 2, 0)

        live = tmp_path / "knowledge" / "articles" / "sales-prices.md"
        live.write_text(SALES.replace("[sales]", "[sails]"))
        outcome = await flows.daemon.knowledge.reload()  # type: ignore[union-attr]
        assert not outcome.applied
        status = (await boss.get("/api/knowledge")).json()
        assert status["version"] == outcome.version
        assert status["last_error"] == [
            f"{live}:3:15: error: departments[0]: unknown department 'sails'; did you mean "
            "'sales'?; known: mailbox, mixed, overflow, sales, solo, support"
        ]
        assert _titles(await agent.get("/api/knowledge/articles")) == ["Sales prices"]
        live.write_text(SALES.replace("19.90", "21.90"))
        assert (await flows.daemon.knowledge.reload()).applied  # type: ignore[union-attr]
        opened = await agent.get("/api/knowledge/articles/sales-prices")
        assert opened.json()["html"] == "<p>Basic: 21.90</p>\n"
        assert len(list((tmp_path / "kb").glob("*.json"))) == 2

        # New routing rules without the support department: the files are checked again, and
        # the article naming it keeps the last good set live.
        (tmp_path / "routing.yaml").write_text(RULES.replace("support", "helpdesk"))
        assert (await flows.daemon.rules.reload()).applied
        async with asyncio.timeout(30):
            while (status := (await boss.get("/api/knowledge")).json())["refused"] < 2:  # noqa: ASYNC110 (the daemon reloads in a task)
                await asyncio.sleep(0.2)
        assert "unknown department 'support'" in status["last_error"][0]
        assert _titles(await admin.get("/api/knowledge/articles", params={"q": "hours"})) == [
            "Support hours"
        ]


async def test_the_script_and_the_record_of_the_agents_own_call(flows: Flows) -> None:
    await flows.agent("A1", PartyScript(answer_after=0.5, talk=6, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=20))
    call_id = await _answered(flows, "Local/A1@sim-agent/n")
    agent = await _client(flows, "ayla", Role.AGENT, endpoint="Local/A1@sim-agent/n")
    other = await _client(flows, "jonas", Role.AGENT, endpoint="Local/A2@sim-agent/n")
    boss = await _client(flows, "sup", Role.SUPERVISOR)
    async with agent, other, boss:
        script = await agent.get(f"/api/agent/calls/{call_id}/script", params={"lang": "de"})
        assert script.status_code == 200, script.text
        assert script.json()["html"] == (
            '<p>Hello <span class="filled" data-field="name">Zeynep Kaya</span>, '
            '<span class="filled" data-field="agent">Ayla</span> here.</p>\n'
        )
        assert script.json()["missing"] == ["customer_number", "language"]
        for path in (f"/api/agent/calls/{call_id}/script", "/api/agent/calls/nope/script"):
            answer = await other.get(path)
            assert (answer.status_code, answer.json()["error"]["code"]) == (404, "call-not-found")
        assert (await boss.get(f"/api/agent/calls/{call_id}/script")).status_code == 403

        url = f"/api/agent/calls/{call_id}/customer"
        bad = await agent.patch(url, json={"language": "Turkish"})
        assert bad.status_code == 422
        assert "language 'Turkish'" in bad.json()["error"]["message"]
        email = await agent.patch(url, json={"email": "zeynep@"})
        assert (email.status_code, email.json()["error"]["code"]) == (422, "invalid-customer")
        assert email.json()["error"]["message"].startswith("email is not a valid e-mail address")
        phone = await agent.patch(url, json={"add_numbers": ["0555 1112"]})
        assert phone.status_code == 422
        assert phone.json()["error"]["code"] == "invalid-number"
        overwrite = await agent.patch(url, json={"name": "Someone Else"})
        assert overwrite.status_code == 403
        assert (await other.patch(url, json={"language": "tr"})).status_code == 404
        fields = {"language": "tr", "email": "Zeynep@Example.COM"}
        done = await agent.patch(url, json={**fields, "add_numbers": ["+90 555 000 11 22"]})
        assert done.status_code == 200, done.text
        assert done.json()["missing"] == ["customer_number"]
        assert done.json()["email"] == "Zeynep@example.com"
        assert done.json()["numbers"] == ["+905550001122", CALLER]
    async with flows.daemon.db.read() as session:
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.update"))
        ).one()
    assert entry.actor_name == "ayla"
    assert entry.detail["fields"] == ["language", "email", "numbers"]
    assert "+905550001122" not in str(entry.detail)
    assert "zeynep" not in str(entry.detail).lower()
    assert "tr" not in entry.detail.values()


async def _answered(flows: Flows, endpoint: str) -> str:
    async with asyncio.timeout(30):
        while True:
            await flows.daemon.journal.flush()
            async with flows.daemon.db.read() as session:
                query = select(Call.id).where(Call.agent_endpoint == endpoint)
                found = (await session.scalars(query)).first()
            if found is not None:
                return found
            await asyncio.sleep(0.2)
