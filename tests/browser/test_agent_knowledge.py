"""The call script, the articles and completing the caller's record in the agent's workspace, in
Chromium against the sandbox Asterisk and the real daemon: a call rings the browser agent, the
screen pop highlights the missing customer number, the agent answers, fills it in the pop (a
bad phone number first, refused with its reason), opens the department's script with the
caller's name and the new number filled in (the file's `<script>` and `<img onerror>` stay text),
searches an article and opens it; the database then holds the completed record and an audit
entry naming the field but not its value."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from sqlalchemy import select

from zentrale.config.settings import AgentSettings, ApiSettings, KnowledgeSettings
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers import store as customers
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript

from .conftest import SCREENSHOTS, workspace
from .test_agent_workspace import (  # noqa: F401 (fixtures)
    CALLER,
    PASSWORD,
    RULES,
    _online,
    flow_fixtures,
    phone_browser,
    tone,
)

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
SCRIPT = """---
title: Desk script
departments: [desk]
---
## Greeting

Good day, am I speaking with **{customer.name}**?

- Customer number: {customer.customer_number}

<script>document.title = "injected"</script>
<img src="x" onerror="document.title = 'injected'">
"""
ARTICLE = """---
title: Plans and prices
departments: [desk]
tags: [tariff]
---
| Plan | Monthly |
|---|---|
| Basic | 19.90 EUR |
"""
OTHER = """---
title: Secret prices
departments: [elsewhere]
---
Not for the desk.
"""


@pytest_asyncio.fixture
async def desk(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon with one browser agent (PJSIP/8101), a known caller and the desk's script."""
    knowledge = tmp_path / "knowledge"
    (knowledge / "scripts").mkdir(parents=True)
    (knowledge / "articles").mkdir()
    (knowledge / "scripts" / "desk.md").write_text(SCRIPT)
    (knowledge / "articles" / "prices.md").write_text(ARTICLE)
    other = (
        '  elsewhere:\n    agents: [{endpoint: "PJSIP/8102", name: Ece}]\n'
        "    on_max_wait: {play_and_hangup: bye}\n"
    )
    rules = RULES.replace("menus:", other + "menus:", 1)
    (knowledge / "articles" / "other.md").write_text(OTHER)
    settings = flow_fixtures.daemon_settings(tmp_path, rules, two_party=True).model_copy(
        update={
            "api": ApiSettings(cookie_secure=False),
            "agents": AgentSettings(
                websocket_url=asterisk.websocket_url, sip_password=asterisk.phone_password
            ),
            "knowledge": KnowledgeSettings(dir=knowledge, history_dir=tmp_path / "kb-history"),
        }
    )
    now = flow_fixtures.MONDAY_10
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        await UserStore(running.db).add(
            NewUser(
                username="ayla",
                display_name="Ayla",
                password=PASSWORD,
                role=Role.AGENT,
                departments=("desk",),
                agent_endpoint="PJSIP/8101",
            )
        )
        async with running.db.write() as session:
            new = customers.NewCustomer(numbers=[CALLER], name="Zeynep Kaya", language="tr")
            await customers.create(session, new, now)
        yield flow_fixtures.Flows(running, asterisk)


async def test_the_agent_completes_the_record_reads_the_script_and_an_article(
    desk: Any,
    phone_browser: Browser,  # noqa: F811 (the fixture imported above)
) -> None:
    url = desk.daemon.http_url
    context, page = await workspace(phone_browser, url, "ayla", PASSWORD, via_link=True)
    await _online(desk, "PJSIP/8101")
    title = await page.title()
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=60), caller=CALLER)
    pop = page.locator("#screen-pop")
    await expect(pop).to_be_visible(timeout=30_000)
    number = pop.locator('[data-field="customer_number"]')
    await expect(number).to_have_class("missing-field")
    await expect(pop.locator('[data-field="name"]')).not_to_have_class("missing-field")
    await expect(pop.locator("#complete-name")).to_be_hidden()
    await expect(pop.get_by_label("E-mail")).to_be_visible()  # optional: offered while empty
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await page.locator("#answer").click()
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "on_call", timeout=10_000
    )

    await pop.get_by_label("Another phone number").fill("0555 123")
    await pop.get_by_role("button", name="Save").click()
    status = pop.locator("#complete-status")
    await expect(status).to_contain_text("not an international phone number")
    await expect(status).to_have_attribute("data-ok", "false")
    await pop.get_by_label("Another phone number").fill("")
    await pop.get_by_label("Customer number").fill("K-1001")
    await pop.get_by_label("E-mail").fill("zeynep@")
    await pop.get_by_role("button", name="Save").click()
    await expect(status).to_contain_text("email is not a valid e-mail address")
    await expect(pop.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    await pop.get_by_label("E-mail").fill("Zeynep@Example.COM")
    await pop.get_by_role("button", name="Save").click()
    await expect(status).to_have_text("Saved")
    await expect(number).to_have_text("K-1001")
    await expect(pop.locator('[data-field="email"]')).to_have_text("Zeynep@example.com")
    await expect(pop.get_by_label("E-mail")).to_be_hidden()
    await expect(number).not_to_have_class("missing-field")
    await expect(pop.locator('[data-field="missing"]')).to_have_text("")

    await page.get_by_role("button", name="Open script").click()
    script = page.locator("#call-script")
    await expect(script).to_be_visible()
    await expect(script.locator('[data-field="name"]')).to_have_text("Zeynep Kaya")
    await expect(script.locator('[data-field="customer_number"]')).to_have_text("K-1001")
    await expect(script.locator("mark.ask")).to_have_count(0)
    await expect(script).to_contain_text('<script>document.title = "injected"</script>')
    assert await script.locator("script, img").count() == 0
    assert await page.title() == title

    await page.get_by_label("Search articles").fill("prices")
    await page.get_by_role("button", name="Search", exact=True).click()
    results = page.locator("#article-results button")
    await expect(results).to_have_count(1)  # the other department's article is not offered
    await results.first.click()
    article = page.locator("#article-view")
    await expect(article.locator("#article-title")).to_have_text("Plans and prices")
    await expect(article.locator("td").nth(1)).to_have_text("19.90 EUR")
    await page.screenshot(path=str(SCREENSHOTS / "agent-knowledge.png"), full_page=True)
    await page.locator("#hangup").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    await context.close()

    async with desk.daemon.db.read() as session:
        record = await customers.by_number(session, CALLER)
        entries = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action.in_(("customer.update", "knowledge.script"))
                )
            )
        )
    assert record is not None
    assert (record.name, record.customer_number, record.missing) == ("Zeynep Kaya", "K-1001", ())
    assert record.email == "Zeynep@example.com"
    update = next(entry for entry in entries if entry.action == "customer.update")
    assert (update.actor_name, update.target) == ("ayla", f"customer:{record.id}")
    assert update.detail["fields"] == ["customer_number", "email"]
    assert "K-1001" not in str(update.detail)
    assert "zeynep" not in str(update.detail).lower()
    assert any(entry.action == "knowledge.script" for entry in entries)
