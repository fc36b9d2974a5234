"""Wrap-up in the agent's workspace, in Chromium against the sandbox Asterisk and the real
daemon: the browser agent (PJSIP/8101, a JsSIP softphone) takes a call, hangs up, and wraps it
up in the page with a disposition, notes, a suggestion for management and a callback; the API
then shows the wrap-up, the suggestions report lists the suggestion, the page lists the callback
and cancels it, and saving the ready wrap-up ends the after-call work. The customer's next call
pops up with the earlier call's disposition and notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from zentrale.config.settings import AgentSettings, ApiSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers import store as customers
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript

from .conftest import SCREENSHOTS, workspace
from .test_agent_workspace import CALLER, PASSWORD, _online, flow_fixtures
from .test_agent_workspace import phone_browser as phone_browser
from .test_agent_workspace import tone as tone

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
announcements: {}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8101", name: Ayla}]
    strategy: in_order
    ring_timeout: 20s
    max_wait: 25s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 5m
    recording: false
    dispositions:
      - {code: sale, label: Sale closed}
      - {code: no_interest, label: No interest}
menus:
  main:
    prompt: menu
    options: {"1": {department: desk}}
    timeout: 3s
    retries: 0
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - {name: everyone, action: {menu: main}}
"""


@pytest_asyncio.fixture
async def desk(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon with the browser agent Ayla and a supervisor (an API token) of `desk`."""
    settings = flow_fixtures.daemon_settings(tmp_path, RULES).model_copy(
        update={
            "api": ApiSettings(cookie_secure=False),
            "agents": AgentSettings(
                websocket_url=asterisk.websocket_url, sip_password=asterisk.phone_password
            ),
        }
    )
    now = flow_fixtures.MONDAY_10  # 10:00 in Istanbul: inside the calling hours
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        users = UserStore(running.db)
        await users.add(
            NewUser(
                username="ayla",
                display_name="Ayla",
                password=PASSWORD,
                role=Role.AGENT,
                departments=("desk",),
                agent_endpoint="PJSIP/8101",
            )
        )
        boss = await users.add(
            NewUser(
                username="selin",
                display_name="Selin",
                password=PASSWORD,
                role=Role.SUPERVISOR,
                departments=("desk",),
            )
        )
        token = await users.issue_token(boss.id, "test", 1)
        async with running.db.write() as session:
            new = customers.NewCustomer(numbers=[CALLER], name="Zeynep Kaya", language="tr")
            await customers.create(session, new, now)
        flows = flow_fixtures.Flows(running, asterisk)
        flows.supervisor_token = token.secret  # type: ignore[attr-defined]
        yield flows


async def test_the_agent_wraps_up_a_call_in_the_page(desk: Any, phone_browser: Browser) -> None:
    url = desk.daemon.http_url
    context, page = await workspace(phone_browser, url, "ayla", PASSWORD, via_link=True)
    await _online(desk, "PJSIP/8101")
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=20), caller=CALLER)
    await expect(page.locator("#screen-pop")).to_be_visible(timeout=30_000)
    panel = page.locator("#wrapup")
    await expect(panel).to_be_visible()
    await expect(page.locator("#wrapup-disposition option")).to_have_text(
        ["Please pick", "Sale closed", "No interest"]
    )
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await page.locator("#answer").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking")
    await page.wait_for_timeout(2_000)
    await page.locator("#hangup").click()
    (call,) = await desk.finished_calls(1, max_wait=60)
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "after_call_work", timeout=10_000
    )

    # A code of another department's list is refused by the API, named.
    await page.locator("#wrapup-disposition").select_option("sale")
    await page.locator("#wrapup-notes").fill("Wants the blue model, delivery next week")
    await page.locator("#wrapup-suggestion").fill("Offer delivery on Saturdays")
    await page.locator("#wrapup-callback").fill("2026-03-02T15:30")
    await page.screenshot(path=str(SCREENSHOTS / "agent-wrapup.png"))
    await page.locator("#wrapup-save").click()
    await expect(page.locator("#wrapup-status")).to_have_attribute("data-status", "saved")
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "available", timeout=10_000
    )  # ready: after-call work ended before its 5 minutes
    item = page.locator("#callback-list li")
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("data-state", "scheduled")

    shown = await page.request.get(f"{url}/api/calls/{call.id}/wrapup")
    assert shown.status == 200
    body = await shown.json()
    assert (body["disposition"], body["disposition_label"]) == ("sale", "Sale closed")
    assert body["notes"] == ["Wants the blue model, delivery next week"]
    assert body["suggestion"] == "Offer delivery on Saturdays"
    (callback,) = body["callbacks"]
    assert (callback["due_at"], callback["number"]) == ("2026-03-02T12:30:00Z", CALLER)

    again = await page.request.put(
        f"{url}/api/calls/{call.id}/wrapup",
        data={"disposition": "sale"},
        headers={"X-CSRF-Token": await _csrf(page)},
    )
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "wrapup-done"

    auth = {"Authorization": f"Bearer {desk.supervisor_token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth) as api:
        read = await api.get(f"/api/calls/{call.id}/wrapup")
        assert read.status_code == 200
        assert read.json()["suggestion"] == "Offer delivery on Saturdays"
        # The report goes by the day the call arrived (the journal's own clock).
        day = call.arrived_at.astimezone(ZoneInfo("Europe/Istanbul")).date().isoformat()
        report = await api.get("/api/stats/suggestions", params={"from": day, "to": day})
        assert report.status_code == 200
        (listed,) = report.json()["suggestions"]
        assert (listed["text"], listed["agent"], listed["department"], listed["call_id"]) == (
            "Offer delivery on Saturdays",
            "Ayla",
            "desk",
            call.id,
        )
        other = await api.get(
            "/api/stats/suggestions",
            params={"from": day, "to": day, "department": "sales"},
        )
        assert other.json()["suggestions"] == []
        page_html = await api.get("/dashboard", params={"from": day, "to": day})
        assert page_html.status_code == 200
        assert "Offer delivery on Saturdays" in page_html.text
        refused = await api.put(f"/api/calls/{call.id}/wrapup", json={"disposition": "sale"})
        assert refused.status_code == 403  # supervisors read wrap-ups, agents write them

    await item.get_by_role("button").click()
    await expect(item).to_have_count(0)
    async with httpx.AsyncClient(base_url=url, headers=auth) as api:
        read = await api.get(f"/api/calls/{call.id}/wrapup")
    assert read.json()["callbacks"][0]["state"] == "cancelled"
    assert dt.datetime.fromisoformat(read.json()["created_at"]) is not None

    # The customer calls again: the pop shows the earlier call with its disposition and notes.
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=8))
    earlier = page.locator('#screen-pop [data-field="earlier"]')
    await expect(earlier).to_contain_text(
        "sale · Wants the blue model, delivery next week", timeout=30_000
    )
    await desk.finished_calls(2, max_wait=60)
    await context.close()


async def _csrf(page: Any) -> str:
    return str(await page.locator('meta[name="csrf-token"]').get_attribute("content"))
