"""Supervisors in Chromium: the statistics dashboard shows what the API answers, and the live
wallboard (inside a real daemon on the sandbox Asterisk) changes without a reload when a
simulated caller joins a queue that has no free agent."""

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
from playwright.async_api import Browser, expect

from zentrale.config.settings import ApiSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.db.session import Database
from zentrale.recording.store import RecordingStore
from zentrale.recording.talk import Segment, TalkFigures
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript
from zentrale.stats.history import insert_rows, rows_of

from .conftest import REPO, SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]
RANGE = "from=2026-03-02&to=2026-03-03&tz=Europe/Istanbul"
FIELDS = (
    "offered",
    "answered",
    "abandoned",
    "abandoned_short",
    "avg_wait",
    "p90_wait",
    "avg_handle",
    "transfers",
    "overflows",
    "suggestions",
    "dropped",
    "analysed_recordings",
    "avg_longest_dead_air",
)
SHARES = ("avg_agent_talk_share", "avg_overtalk_share")
TALK = TalkFigures(
    duration_s=6.0,
    parties=2,
    customer_talk_s=3.0,
    agent_talk_s=1.0,
    silence_s=2.0,
    longest_silence_s=2.0,
    overtalk_s=0.6,
    overtalk_count=1,
    longest_monologue_s=3.0,
    longest_monologue_party="customer",
    agent_talk_ratio=0.25,
    segments=(Segment("customer", 0.0, 3.0), Segment("agent", 2.4, 3.4)),
    silences=((3.4, 5.4),),
    overtalks=((2.4, 3.0),),
)


def _load(name: str, relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stats_history = _load("stats_history_fixture", "tests/integration/db/test_stats.py")
flow_fixtures = _load("flow_fixtures", "tests/integration/flows/conftest.py")


def _shown(value: Any) -> str:
    return "\u2013" if value is None else str(value)


async def test_dashboard_numbers_match_the_api(
    service: dict[str, Any], browser: Browser, password: str, tmp_path: Path
) -> None:
    url, world = service["url"], service["world"]
    async with Database.open(f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}") as db:
        await insert_rows(db, rows_of(stats_history.HISTORY))
        # One analysed conversation (sales1, inbound): the averages columns have a value.
        await RecordingStore(db).set_talk(world.recordings["sales1"], TALK)
    async with httpx.AsyncClient(base_url=url) as api:
        response = await api.get(f"/api/stats?{RANGE}", headers=world.auth("super"))
    rows = response.json()["rows"]
    assert {row["key"] for row in rows} == {"sales"}  # the supervisor's department only
    page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
    await sign_in(page, url, "super", password)
    await page.get_by_role("link", name="Statistics").click()
    await page.goto(f"{url}/dashboard?{RANGE}")
    table = page.locator("#stats-table tbody tr")
    await expect(table).to_have_count(len(rows))
    for row in rows:
        shown = page.locator(f'tr[data-key="{row["key"]}"][data-period="{row["period_start"]}"]')
        for name in FIELDS:
            await expect(shown.locator(f'td[data-field="{name}"]')).to_have_text(_shown(row[name]))
        level = f"{100 * row['service_level']:.1f} %"
        await expect(shown.locator('td[data-field="service_level"]')).to_have_text(level)
        for name in SHARES:
            share = "\u2013" if row[name] is None else f"{100 * row[name]:.1f} %"
            await expect(shown.locator(f'td[data-field="{name}"]')).to_have_text(share)
    assert sum(row["analysed_recordings"] for row in rows) == 1
    assert [row["avg_agent_talk_share"] for row in rows if row["analysed_recordings"]] == [0.25]
    answered_bars = page.locator("#calls-chart rect.answered")
    await expect(answered_bars).to_have_count(len(rows))
    values = [await bar.get_attribute("data-value") for bar in await answered_bars.all()]
    assert values == [str(row["answered"]) for row in rows]
    await page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)


@pytest_asyncio.fixture
async def daemon(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The flow tests' daemon on the sandbox Asterisk, with cookies a browser sends over http."""
    flows = flow_fixtures.Flows
    rules = tmp_path / "routing.yaml"
    rules.write_text(flow_fixtures.RULES)
    settings = flow_fixtures.Settings(
        state_dir=tmp_path,
        routing=flow_fixtures.RoutingSettings(file=rules, history_dir=tmp_path / "history"),
        database=flow_fixtures.DatabaseSettings(
            url=flow_fixtures.SecretStr(f"sqlite+aiosqlite:///{tmp_path}/z.db")
        ),
        http=flow_fixtures.HttpSettings(port=0),
        api=ApiSettings(cookie_secure=False),
        prompts=flow_fixtures.PromptSettings(dir=tmp_path / "prompts"),
        recording=flow_fixtures.RecordingSettings(temp_dir=tmp_path / "tmp"),
        storage=flow_fixtures.StorageSettings(path=tmp_path / "recordings"),
        keys=flow_fixtures.KeySettings(
            recipients=(
                flow_fixtures.RecipientSettings(
                    provider="local", keyring_file=tmp_path / "keyring.json"
                ),
            )
        ),
    )
    now = flow_fixtures.MONDAY_10
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        yield flows(running, asterisk)


async def test_wallboard_follows_a_caller_into_a_queue(daemon: Any, browser: Browser) -> None:
    users = UserStore(daemon.daemon.db)
    secret = "a long password 1"
    boss = await users.add(
        NewUser(
            username="sabine",
            display_name="Sabine",
            password=secret,
            role=Role.SUPERVISOR,
            departments=("support",),
        )
    )
    token = (await users.issue_token(boss.id, "test", 1)).secret
    url = daemon.daemon.http_url
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as api:
        paused = await api.post(
            "/api/agents/pause", json={"endpoint": "Local/B1@sim-agent/n", "paused": True}
        )
        assert paused.status_code == 200, paused.text
        board = (await api.get("/api/wallboard")).json()
    assert [d["department"] for d in board["departments"]] == ["support"]  # her scope

    page = await (await browser.new_context(viewport={"width": 1200, "height": 800})).new_page()
    await sign_in(page, url, "sabine", secret)
    await page.goto(f"{url}/wallboard?lang=en")
    tile = page.locator('.tile[data-department="support"]')
    await expect(tile.locator('[data-field="paused"]')).to_have_text("1")
    await expect(tile.locator('[data-field="waiting"]')).to_have_text("0")
    await expect(page.locator("#wallboard-status")).to_have_text("live", timeout=20_000)
    await page.evaluate("window.stillTheSamePage = true")

    # Support's only agent is paused: the caller waits in the queue until they hang up.
    await daemon.call(CustomerScript(digits="2", digit_delay=0.5, then="wait", hangup_after=25))
    await expect(tile.locator('[data-field="waiting"]')).to_have_text("1", timeout=60_000)
    await expect(tile).to_have_class("tile busy")
    longest = tile.locator('[data-field="longest_wait"]')
    await expect(longest).not_to_have_text("0", timeout=20_000)
    await page.screenshot(path=str(SCREENSHOTS / "wallboard.png"))
    assert await page.evaluate("window.stillTheSamePage === true")  # updated, not reloaded

    (call,) = await daemon.finished_calls(1, max_wait=90)
    assert (call.department, str(call.outcome)) == ("support", "abandoned_in_queue")
    await expect(tile.locator('[data-field="waiting"]')).to_have_text("0", timeout=30_000)
    assert await page.evaluate("window.stillTheSamePage === true")

    # The agent's live row follows the stream too: paused, then available again.
    row = page.locator('#wallboard-agents tr[data-agent="Local/B1@sim-agent/n"] td')
    await expect(row.nth(1)).to_have_text("paused")
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as api:
        back = {"endpoint": "Local/B1@sim-agent/n", "paused": False}
        assert (await api.post("/api/agents/pause", json=back)).status_code == 200
    await expect(row.nth(1)).to_have_text("idle", timeout=20_000)
    assert await page.evaluate("window.stillTheSamePage === true")


async def test_the_statistics_table_stays_inside_a_laptop_screen(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    await insert_rows(service["db"], rows_of(stats_history.HISTORY))
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await sign_in(page, service["url"], "super", password)
    await page.goto(f"{service['url']}/dashboard?{RANGE}&lang=de")  # German headings are longer
    await expect(page.locator("#stats-table tbody tr").first).to_be_attached()
    width = await page.evaluate("window.innerWidth")
    box = await page.locator("#stats-scroll").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    # the page itself never scrolls sideways; a wide table scrolls inside its box
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    table = await page.locator("#stats-table").bounding_box()
    assert table is not None
    if table["x"] + table["width"] > box["x"] + box["width"]:
        await page.locator("#stats-scroll").evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    last = await page.locator("#stats-table thead th").last.bounding_box()
    assert last is not None
    assert last["x"] + last["width"] <= box["x"] + box["width"] + 1  # the last column reachable
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-laptop.png"))
    await context.close()
