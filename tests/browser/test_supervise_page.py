"""The supervisors' page in Chromium, on the daemon and the real sandbox Asterisk.

A sales supervisor signs in and opens the page from the menu: the sales agents are listed (and
support's are not). An agent pausing with a reason (through the workspace's API) shows up live,
without a reload; a call the agent takes appears with its duration; the supervisor clicks
Listen, their phone (a simulated party) is rung and the page marks the session, then Whisper
switches it and Stop ends it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from zentrale.config.settings import ApiSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript

from .conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long password 1"
AGENT = "Local/A1@sim-agent/n"


def _load(name: str, relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


flow_fixtures = _load("supervise_flow_fixtures", "tests/integration/flows/conftest.py")


@pytest_asyncio.fixture
async def floor(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon on the sandbox (the flows' rules) and a sales supervisor with a phone."""
    settings = flow_fixtures.daemon_settings(tmp_path, flow_fixtures.RULES).model_copy(
        update={"api": ApiSettings(cookie_secure=False)}
    )
    now = flow_fixtures.MONDAY_10
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        await UserStore(running.db).add(
            NewUser(
                username="sue",
                display_name="Sue",
                password=PASSWORD,
                role=Role.SUPERVISOR,
                departments=("sales",),
                agent_endpoint="Local/S1@sim-agent/n",
            )
        )
        yield flow_fixtures.Flows(running, asterisk)


async def _agent_api(floor: Any) -> httpx.AsyncClient:
    """Return an API client signed in as the agent of Local/A1 (a bearer token)."""
    users = UserStore(floor.daemon.db)
    user = await users.add(
        NewUser(
            username="ayse",
            display_name="Ayşe",
            password=PASSWORD,
            role=Role.AGENT,
            departments=("sales",),
            agent_endpoint=AGENT,
        )
    )
    token = (await users.issue_token(user.id, "test", 1)).secret
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=floor.daemon.http_url, headers=headers, timeout=30)


async def _page(browser: Browser, url: str) -> Page:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await sign_in(page, url, "sue", PASSWORD)
    await page.get_by_role("link", name="Supervisors").click()
    await page.wait_for_url(f"{url}/supervise")
    await expect(page.locator("#supervise-status")).to_have_text("live")
    return page


async def test_the_page_follows_agents_and_calls_live_and_listens(
    floor: Any, browser: Browser
) -> None:
    page = await _page(browser, floor.daemon.http_url)
    row = page.locator(f'#agents tr[data-endpoint="{AGENT}"]')
    await expect(row).to_have_attribute("data-state", "available")
    endpoints = await page.locator("#agents tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-endpoint'))"
    )
    assert sorted(endpoints) == ["Local/A1@sim-agent/n", "Local/A2@sim-agent/n"]
    await expect(page.locator('#queues tr[data-department="sales"]')).to_have_count(1)
    await expect(page.locator('#queues tr[data-department="support"]')).to_have_count(0)

    async with await _agent_api(floor) as agent:  # the agent pauses in their workspace
        pause = {"state": "paused", "reason": "training"}
        paused = await agent.post("/api/agent/state", json=pause)
        assert paused.status_code == 200, paused.text
        await expect(row).to_have_attribute("data-state", "paused")
        await expect(row.locator('[data-field="state"]')).to_have_text("Paused (training)")
        await agent.post("/api/agent/state", json={"state": "available"})
        await expect(row).to_have_attribute("data-state", "available")

    await floor.agent("A1", PartyScript(answer_after=0.3, talk=30, then="hangup"))
    await floor.agent("S1", PartyScript(answer_after=0.3))
    await floor.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=40))
    await expect(row).to_have_attribute("data-state", "on_call", timeout=20_000)
    await expect(row.locator('[data-field="call"]')).to_contain_text("sales")
    await expect(row.locator('[data-field="duration_s"]')).not_to_have_text("0", timeout=5_000)

    await row.get_by_role("button", name="Listen").click()
    await expect(row.locator('button[data-mode="listen"]')).to_have_attribute(
        "aria-pressed", "true", timeout=15_000
    )
    assert len(floor.daemon.center.monitors.sessions) == 1
    await row.get_by_role("button", name="Whisper").click()
    await expect(row.locator('button[data-mode="whisper"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.screenshot(path=str(SCREENSHOTS / "supervise.png"))
    await row.get_by_role("button", name="Stop").click()
    await expect(row.locator('button[data-mode="stop"]')).to_have_count(0)
    assert floor.daemon.center.monitors.sessions == {}
    await expect(page.locator("#supervise-error")).to_have_text("")
